"""What the review service does: decide on annotations and report on items."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from labelmesh.core.envelopes import new_envelope, service_actor
from labelmesh.core.errors import RetryLater
from labelmesh.core.mongo import UnitOfWork
from labelmesh.review.adapters.repository import ReviewRepository
from labelmesh.review.domain import Verdict, review_auto_accepted, review_human
from labelmesh.review.metrics import ReviewMetrics
from labelmesh.v1.events_pb2 import (
    AnnotationAutoAccepted,
    AnnotationSubmitted,
    Envelope,
    ItemCompleted,
    ReviewDecided,
    ReviewDecision,
)
from labelmesh.v1.geometry_pb2 import Label

SERVICE = "review"


class Review:
    def __init__(
        self, repository: ReviewRepository, uow: UnitOfWork, metrics: ReviewMetrics
    ) -> None:
        self.repository = repository
        self.uow = uow
        self.metrics = metrics

    async def review_submission(self, envelope: Envelope, event: AnnotationSubmitted) -> None:
        project = await self.repository.get_project(envelope.project_id)
        if project is None:
            raise RetryLater(f"project {envelope.project_id!r} not known yet")
        verdict = review_human(event.labels, event.suggestion, project.review_min_agreement)
        if verdict.agreement is not None:
            self.metrics.agreement.observe(verdict.agreement)
        await self._decide(
            envelope, event.annotation_id, event.task_id, event.labels, verdict, "human"
        )

    async def review_auto_accepted(self, envelope: Envelope, event: AnnotationAutoAccepted) -> None:
        verdict = review_auto_accepted(event.labels, event.threshold)
        await self._decide(envelope, event.annotation_id, "", event.labels, verdict, "model")

    async def _decide(
        self,
        envelope: Envelope,
        annotation_id: str,
        task_id: str,
        labels: Sequence[Label],
        verdict: Verdict,
        source: str,
    ) -> None:
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
        approved = verdict.decision == ReviewDecision.REVIEW_DECISION_APPROVED

        def envelope_of(payload: ReviewDecided | ItemCompleted) -> Envelope:
            return new_envelope(
                payload,
                producer=SERVICE,
                actor=service_actor(SERVICE),
                project_id=envelope.project_id,
                item_id=envelope.item_id,
                trace_id=envelope.trace_id,
            )

        async with self.uow.begin() as tx:
            if not await tx.claim_event(envelope.event_id, SERVICE):
                return
            await self.repository.insert_review(
                tx, envelope.project_id, envelope.item_id, review, source
            )
            tx.emit(envelope_of(review))
            if approved:
                completed = ItemCompleted(annotation_id=annotation_id, labels=labels, source=source)
                tx.emit(envelope_of(completed))
        self.metrics.decisions.labels(ReviewDecision.Name(verdict.decision), source).inc()

    async def item_reviews(self, item_id: str) -> tuple[list[ReviewDecided], bool]:
        reviews = await self.repository.reviews_of_item(item_id)
        completed = any(r.decision == ReviewDecision.REVIEW_DECISION_APPROVED for r in reviews)
        return reviews, completed
