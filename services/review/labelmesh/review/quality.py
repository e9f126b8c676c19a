"""Setting up quality control and reporting on it: review policies, gold
standards, and scores for any time window."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from labelmesh.core import review_policy
from labelmesh.core.envelopes import Acting, acting_actor
from labelmesh.core.errors import Conflict, InvalidField
from labelmesh.core.uow import Transaction, UnitOfWork
from labelmesh.review import reports
from labelmesh.review.contexts import ProjectContexts
from labelmesh.review.domain import check_labels
from labelmesh.review.members import member_record, same_members
from labelmesh.review.ports import ReviewStore
from labelmesh.review.recorder import review_envelope
from labelmesh.review.records import GoldAnswer, Window
from labelmesh.v1.events_pb2 import (
    Envelope,
    GoldStandardSet,
    ProjectSpec,
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


@dataclass(eq=False)
class Quality:
    store: ReviewStore
    contexts: ProjectContexts
    uow: UnitOfWork

    async def remember_project(self, tx: Transaction, project: ProjectSpec) -> None:
        """Keep a created project, and its initial review policy if it has one."""
        await self.store.projects.save(tx, project)
        if project.HasField("review_policy"):
            policy = ReviewPolicy()
            policy.CopyFrom(project.review_policy)
            policy.version = max(1, policy.version)
            await self.store.policies.save(tx, project.project_id, policy)

    async def remember_membership(self, tx: Transaction, envelope: Envelope) -> None:
        """Keep a membership as it is now; an older state arriving late is dropped."""
        at = envelope.occurred_at.ToDatetime(tzinfo=UTC)
        member = member_record(envelope.membership_changed.membership, at)
        await self.store.members.apply(tx, member)

    async def configure_policy(
        self, project_id: str, policy: ReviewPolicy, user: Acting
    ) -> ReviewPolicy:
        """Replace the policy; the new version applies to rounds that start from now on.
        Its members are the memberships': a policy read, changed and written back
        may carry them unchanged."""
        await self.contexts.project(project_id)
        if policy.members and same_members(policy.members, await self.contexts.members(project_id)):
            policy = _without_members(policy)
        review_policy.validate(policy, "policy")

        async def write(tx: Transaction) -> ReviewPolicy:
            current = await self.store.policies.current(project_id)
            new = ReviewPolicy()
            new.CopyFrom(policy)
            new.version = (current.version if current else 0) + 1
            if not await self.store.policies.save(tx, project_id, new):
                raise Conflict(f"the review policy of {project_id!r} changed meanwhile")
            configured = ReviewPolicyConfigured(policy=new)
            tx.emit(review_envelope(configured, acting_actor(user), project_id))
            return new

        return await self.uow.run(write)

    async def set_gold(
        self, project_id: str, items: Sequence[tuple[str, Sequence[Label]]], user: Acting
    ) -> list[GoldResult]:
        """Give items known answers. Each item succeeds or fails on its own."""
        actor = acting_actor(user)
        if not items:
            raise InvalidField("items", "at least one item is required")
        if len(items) > MAX_GOLD_BATCH:
            raise InvalidField("items", f"at most {MAX_GOLD_BATCH} per request")
        project = await self.contexts.project(project_id)
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
            at = datetime.now(UTC)
            answers = [GoldAnswer(i, project_id, list(ls), actor.id, at) for i, ls in accepted]
            await self.store.gold.save(tx, answers)
            for item_id, labels in accepted:
                event = GoldStandardSet(labels=labels)
                tx.emit(review_envelope(event, actor, project_id, item_id))

        if accepted:
            await self.uow.run(write)
        return results

    # --- reports ---------------------------------------------------------------------------

    async def annotation_scores(self, window: Window) -> list[AnnotationScore]:
        """Every annotation scored in the window, oldest first."""
        await self.contexts.project(window.project_id)
        scores = await self.store.scores.in_window(window)
        return await asyncio.to_thread(reports.annotation_scores, scores)

    async def annotator_report(self, window: Window) -> list[AnnotatorStats]:
        """Each annotator's figures over the window."""
        await self.contexts.project(window.project_id)
        records = await self.store.annotators.of_project(window.project_id)
        flagged = {r.annotator for r in records if r.flagged}
        scores = await self.store.scores.in_window(window)
        return await asyncio.to_thread(reports.annotator_report, scores, flagged)

    async def reviewer_report(self, window: Window) -> list[ReviewerStats]:
        """Each reviewer's figures over the window."""
        await self.contexts.project(window.project_id)
        decisions = await self.store.reviewer_decisions.in_window(window)
        return await asyncio.to_thread(reports.reviewer_report, decisions)

    async def agreement_report(self, window: Window) -> GetAgreementReportResponse:
        """Inter-annotator agreement over the annotations submitted in the window."""
        await self.contexts.project(window.project_id)
        # Kappas and alphas over a project's annotations take a while: off the event loop.
        annotations = await self.store.annotations.in_window(window)
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


def _without_members(policy: ReviewPolicy) -> ReviewPolicy:
    stripped = ReviewPolicy()
    stripped.CopyFrom(policy)
    del stripped.members[:]
    return stripped
