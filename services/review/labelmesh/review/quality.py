"""Setting up quality control and reporting on it: review policies, gold
standards, and scores for any time window."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from labelmesh.core import review_policy
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.core.errors import Conflict, InvalidField
from labelmesh.core.mongo import Transaction
from labelmesh.review import reports
from labelmesh.review.adapters.repository import Window
from labelmesh.review.domain import check_labels
from labelmesh.review.usecases import SERVICE, Review
from labelmesh.v1.events_pb2 import (
    Envelope,
    GoldStandardSet,
    ProjectCreated,
    ReviewPolicy,
    ReviewPolicyConfigured,
)
from labelmesh.v1.geometry_pb2 import Label
from labelmesh.v1.review_service_pb2 import (
    AnnotationScore,
    AnnotatorStats,
    GetAgreementReportResponse,
    ReviewerStats,
)

MAX_GOLD_BATCH = 1000


@dataclass(frozen=True)
class GoldResult:
    item_id: str
    field: str = ""
    reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


class Quality:
    def __init__(self, review: Review) -> None:
        self.review = review
        self.repository = review.repository

    async def on_project_created(self, envelope: Envelope, event: ProjectCreated) -> None:
        """Keep the project, and its initial review policy if it has one."""
        project = event.project

        async def write(tx: Transaction) -> None:
            if not await tx.claim_event(envelope.event_id, SERVICE):
                return
            await self.repository.projects.save(tx, project)
            if project.HasField("review_policy"):
                policy = ReviewPolicy()
                policy.CopyFrom(project.review_policy)
                policy.version = max(1, policy.version)
                await self.repository.save_policy(tx, project.project_id, policy)

        await self.review.uow.run(write)

    async def configure_policy(
        self, project_id: str, policy: ReviewPolicy, user: str
    ) -> ReviewPolicy:
        """Replace the policy; the new version applies to rounds that start from now on."""
        review_policy.validate(policy, "policy")
        await self.review.project(project_id)

        async def write(tx: Transaction) -> ReviewPolicy:
            current = await self.repository.policy(project_id)
            new = ReviewPolicy()
            new.CopyFrom(policy)
            new.version = (current.version if current else 0) + 1
            if not await self.repository.save_policy(tx, project_id, new):
                raise Conflict(f"the review policy of {project_id!r} changed meanwhile")
            tx.emit(
                new_envelope(
                    ReviewPolicyConfigured(policy=new),
                    producer=SERVICE,
                    actor=user_actor(user),
                    project_id=project_id,
                )
            )
            return new

        return await self.review.uow.run(write)

    async def set_gold(
        self, project_id: str, items: Sequence[tuple[str, Sequence[Label]]], user: str
    ) -> list[GoldResult]:
        """Give items known answers. Each item succeeds or fails on its own."""
        if not items:
            raise InvalidField("items", "at least one item is required")
        if len(items) > MAX_GOLD_BATCH:
            raise InvalidField("items", f"at most {MAX_GOLD_BATCH} per request")
        project = await self.review.project(project_id)
        classes = set(project.classes)
        results: list[GoldResult] = []
        accepted: list[tuple[str, Sequence[Label]]] = []
        for index, (item_id, labels) in enumerate(items):
            problem = _gold_problem(f"items[{index}]", item_id, labels, classes)
            if problem is None and item_id in {i for i, _ in accepted}:
                problem = (f"items[{index}].item_id", "listed twice")
            results.append(GoldResult(item_id, *problem) if problem else GoldResult(item_id))
            if problem is None:
                accepted.append((item_id, labels))

        async def write(tx: Transaction) -> None:
            for item_id, labels in accepted:
                await self.repository.save_gold(tx, project_id, item_id, labels, user)
                tx.emit(
                    new_envelope(
                        GoldStandardSet(labels=labels),
                        producer=SERVICE,
                        actor=user_actor(user),
                        project_id=project_id,
                        item_id=item_id,
                    )
                )

        if accepted:
            await self.review.uow.run(write)
        return results

    # --- reports ---------------------------------------------------------------------------

    async def annotation_scores(self, window: Window) -> list[AnnotationScore]:
        await self.review.project(window.project_id)
        scores = await self.repository.scores_in(window)
        return await asyncio.to_thread(reports.annotation_scores, scores)

    async def annotator_report(self, window: Window) -> list[AnnotatorStats]:
        await self.review.project(window.project_id)
        flagged = {
            r["annotator"]
            for r in await self.repository.annotator_records(window.project_id)
            if r["flagged"]
        }
        scores = await self.repository.scores_in(window)
        return await asyncio.to_thread(reports.annotator_report, scores, flagged)

    async def reviewer_report(self, window: Window) -> list[ReviewerStats]:
        await self.review.project(window.project_id)
        decisions = await self.repository.reviewer_decisions_in(window)
        return await asyncio.to_thread(reports.reviewer_report, decisions)

    async def agreement_report(self, window: Window) -> GetAgreementReportResponse:
        await self.review.project(window.project_id)
        # Kappas and alphas over a project's annotations take a while: off the event loop.
        annotations = await self.repository.annotations_in(window)
        return await asyncio.to_thread(reports.agreement_report, annotations)


def _gold_problem(
    at: str, item_id: str, labels: Sequence[Label], classes: set[str]
) -> tuple[str, str] | None:
    """(field, reason) of what is wrong with one gold item, if anything."""
    if not item_id.strip():
        return f"{at}.item_id", "must not be empty"
    try:
        check_labels(labels, classes, f"{at}.labels")
    except InvalidField as exc:
        return exc.field, exc.reason
    return None
