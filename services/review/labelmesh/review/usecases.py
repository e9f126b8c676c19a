"""What the review service does: decide on annotations and report on items."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from labelmesh.core.envelopes import new_envelope, service_actor
from labelmesh.core.errors import RetryLater
from labelmesh.core.mongo import UnitOfWork
from labelmesh.review.adapters.repository import ReviewRepository
from labelmesh.review.domain import review_auto_accepted, review_human
from labelmesh.review.metrics import ReviewMetrics
from labelmesh.v1.events_pb2 import (
    AnnotationAutoAccepted,
    AnnotationSubmitted,
    Envelope,
    ItemCompleted,
    ProjectSpec,
    ReviewDecided,
    ReviewDecision,
)

SERVICE = "review"
Reviewable = AnnotationSubmitted | AnnotationAutoAccepted


class Review:
    def __init__(
        self, repository: ReviewRepository, uow: UnitOfWork, metrics: ReviewMetrics
    ) -> None:
        self.repository = repository
        self.uow = uow
        self.metrics = metrics

    async def review(self, arrivals: Sequence[tuple[Envelope, Reviewable]]) -> None:
        """Decide on annotations: a whole fetch in one transaction."""
        decisions = []
        projects: dict[str, ProjectSpec | None] = {}
        for envelope, event in arrivals:
            if isinstance(event, AnnotationAutoAccepted):
                verdict = review_auto_accepted(event.labels, event.threshold)
                decisions.append(
                    (envelope, event.annotation_id, "", event.labels, verdict, "model")
                )
                continue
            if envelope.project_id not in projects:
                projects[envelope.project_id] = await self.repository.projects.get(
                    envelope.project_id
                )
            project = projects[envelope.project_id]
            if project is None:
                raise RetryLater(f"project {envelope.project_id!r} not known yet")
            verdict = review_human(event.labels, event.suggestion, project.review_min_agreement)
            decisions.append(
                (envelope, event.annotation_id, event.task_id, event.labels, verdict, "human")
            )

        async with self.uow.begin() as tx:
            new = {id(e) for e in await tx.claim_new([e for e, _ in arrivals], SERVICE)}
            reviews = []
            for envelope, annotation_id, task_id, labels, verdict, source in decisions:
                if id(envelope) not in new:
                    continue
                review = ReviewDecided(
                    review_id=str(uuid.uuid4()),
                    annotation_id=annotation_id,
                    decision=verdict.decision,
                    agreement=verdict.agreement or 0.0,
                    has_agreement=verdict.agreement is not None,
                    quality_score=verdict.quality_score,
                    reason=verdict.reason,
                    task_id=task_id,
                )
                reviews.append((envelope, review, source))
                tx.emit(_caused_by(envelope, review))
                if verdict.decision == ReviewDecision.REVIEW_DECISION_APPROVED:
                    completed = ItemCompleted(
                        annotation_id=annotation_id, labels=labels, source=source
                    )
                    tx.emit(_caused_by(envelope, completed))
            await self.repository.insert_reviews(tx, reviews)
        for _, review, source in reviews:
            self.metrics.decisions.labels(ReviewDecision.Name(review.decision), source).inc()
            if source == "human" and review.has_agreement:
                self.metrics.agreement.observe(review.agreement)

    async def item_reviews(self, item_id: str) -> tuple[list[ReviewDecided], bool]:
        reviews = await self.repository.reviews_of_item(item_id)
        completed = any(r.decision == ReviewDecision.REVIEW_DECISION_APPROVED for r in reviews)
        return reviews, completed


def _caused_by(cause: Envelope, payload: ReviewDecided | ItemCompleted) -> Envelope:
    return new_envelope(
        payload,
        producer=SERVICE,
        actor=service_actor(SERVICE),
        project_id=cause.project_id,
        item_id=cause.item_id,
        trace_id=cause.trace_id,
    )
