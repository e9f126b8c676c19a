"""The reviewers' side: taking review and adjudication tasks, deciding them, and
sending items back by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from labelmesh.core.envelopes import Acting, acting_actor
from labelmesh.core.errors import Conflict, InvalidField, NotFound
from labelmesh.core.uow import Transaction, UnitOfWork
from labelmesh.review import pipeline
from labelmesh.review.contexts import ProjectContexts
from labelmesh.review.domain import check_labels
from labelmesh.review.metrics import ReviewMetrics
from labelmesh.review.pipeline import Effects, ItemState
from labelmesh.review.ports import ReviewStore
from labelmesh.review.recorder import Cause, Recorder, Step
from labelmesh.review.records import (
    Outcome,
    ReviewerDecision,
    ReviewState,
    ReviewTask,
    TaskKind,
)
from labelmesh.review.tally import Tally
from labelmesh.v1.events_pb2 import ProjectMember
from labelmesh.v1.geometry_pb2 import Label

MAX_REASON = 2000


@dataclass(eq=False)
class ReviewTasks:
    store: ReviewStore
    contexts: ProjectContexts
    recorder: Recorder
    uow: UnitOfWork
    metrics: ReviewMetrics

    async def next_task(self, project_id: str, reviewer: str) -> ReviewTask | None:
        """The reviewer's current task, or the oldest open one their roles or teams allow."""
        if not reviewer:
            raise InvalidField("reviewer", "must not be empty")
        member = await self.contexts.member(project_id, reviewer)
        if member is None:
            raise InvalidField("reviewer", f"{reviewer!r} holds no role in this project")
        task = await self.store.tasks.assigned_to(project_id, reviewer)
        if task is None:
            task = await self.store.tasks.claim(
                project_id, reviewer, list(member.roles), list(member.teams)
            )
        return task

    async def get_task(self, task_id: str) -> ReviewTask:
        task = await self.store.tasks.get(task_id)
        if task is None:
            raise NotFound("review task", task_id)
        return task

    async def decide(
        self,
        task_id: str,
        deciding: Acting,
        approve: bool,
        reason: str,
        labels: Sequence[Label],
    ) -> Outcome:
        """Decide a task; returns where the item went."""
        actor = acting_actor(deciding)
        reviewer = actor.id
        reason = reason.strip()
        if not reviewer:
            raise InvalidField("reviewer", "must not be empty")
        if len(reason) > MAX_REASON:
            raise InvalidField("reason", f"at most {MAX_REASON} characters")
        task = await self.get_task(task_id)
        if task.assignee and task.assignee != reviewer:
            raise Conflict(f"review task {task_id!r} is assigned to {task.assignee!r}")
        if not task.status.decidable:
            raise Conflict(f"review task {task_id!r} is {task.status}")
        adjudication = task.kind == TaskKind.ADJUDICATION
        if adjudication:
            if not approve:
                raise InvalidField("decision", "an adjudication decides the labels: APPROVED")
            if not reason:
                raise InvalidField("reason", "an adjudication is recorded with its reason")
            check_labels(labels, set((await self.contexts.project(task.project_id)).classes))
        elif not approve and not reason:
            raise InvalidField("reason", "a rejection needs a reason")
        ctx, member = await asyncio.gather(
            self.contexts.context(task.project_id),
            self.contexts.member(task.project_id, reviewer),
        )
        _check_may_decide(task, member, reviewer)

        async def write(tx: Transaction) -> tuple[Outcome, Tally] | None:
            """The outcome and what it counts; None if the item moved on."""
            item = await self.store.items.get(task.item_id, tx)
            if item is None or item.review_task_id != task_id:
                return None
            if not await self.store.tasks.close(tx, task_id, reviewer):
                raise Conflict(f"review task {task_id!r} was decided meanwhile")
            if adjudication:
                fx = pipeline.decide_adjudication(item, task_id, labels, reviewer, reason)
                decided = list(labels)
            else:
                fx = pipeline.decide_review(item, task_id, approve, reviewer, reason, ctx)
                decided = task.labels
            await self.store.reviewer_decisions.record(
                tx,
                ReviewerDecision(
                    review_task_id=task.review_task_id,
                    project_id=task.project_id,
                    item_id=task.item_id,
                    reviewer=reviewer,
                    stage=task.stage,
                    approved=approve,
                    labels=decided,
                    decided_at=datetime.now(UTC),
                ),
            )
            tally = Tally(self.metrics)
            step = Step(item, fx, Cause(actor=actor))
            await self.recorder.record(tx, [step], tally)
            await self.store.items.save(tx, [item])
            return _outcome(item, fx), tally

        written = await self.uow.run(write)
        if written is None:
            await self.store.tasks.cancel(task_id)
            raise Conflict(f"item {task.item_id!r} moved on; review task {task_id!r} is cancelled")
        outcome, tally = written
        tally.committed()
        return outcome

    async def flag_item(
        self, item_id: str, reason: str, annotation_id: str, flagging: Acting
    ) -> Outcome:
        """Send an item back through review by hand; returns where it went."""
        actor = acting_actor(flagging)
        reason = reason.strip()
        if not reason:
            raise InvalidField("reason", "say why the item is flagged")
        if len(reason) > MAX_REASON:
            raise InvalidField("reason", f"at most {MAX_REASON} characters")
        item = await self.store.items.get(item_id)
        if item is None:
            raise NotFound("item under review", item_id)
        if annotation_id and annotation_id not in {s.annotation_id for s in item.submissions}:
            raise InvalidField("annotation_id", f"not an annotation of item {item_id!r}")
        ctx = await self.contexts.context(item.project_id)

        async def write(tx: Transaction) -> tuple[Outcome, Tally]:
            current = await self.store.items.get(item_id, tx)
            assert current is not None
            fx, outcome = pipeline.flag_item(current, reason, actor.id, annotation_id, ctx)
            tally = Tally(self.metrics)
            step = Step(current, fx, Cause(actor=actor))
            await self.recorder.record(tx, [step], tally)
            await self.store.items.save(tx, [current])
            return outcome, tally

        outcome, tally = await self.uow.run(write)
        tally.committed()
        return outcome


def _check_may_decide(task: ReviewTask, member: ProjectMember | None, reviewer: str) -> None:
    """Only a member with the task's role or team decides it, never on their own work."""
    allowed = member is not None and (
        (task.role and task.role in member.roles) or (task.team and task.team in member.teams)
    )
    if not allowed:
        needed = f"role {task.role!r}" if task.role else f"team {task.team!r}"
        raise InvalidField("reviewer", f"{reviewer!r} lacks the {needed} this task needs")
    if reviewer in task.annotators:
        raise Conflict(f"{reviewer!r} annotated this item and cannot review it")


def _outcome(item: ItemState, fx: Effects) -> Outcome:
    if item.state == ReviewState.COMPLETED:
        return Outcome.COMPLETED
    if item.state == ReviewState.ADJUDICATION:
        return Outcome.ADJUDICATION
    if item.state == ReviewState.ANNOTATING:
        return Outcome.SENT_BACK
    return Outcome.NEXT_STAGE if fx.tasks else Outcome(item.state.value)
