"""The reviewers' side: taking review and adjudication tasks, deciding them, and
sending items back by hand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from labelmesh.core.envelopes import user_actor
from labelmesh.core.errors import Conflict, InvalidField, NotFound
from labelmesh.core.labels import labels_from_json
from labelmesh.core.mongo import Document, Transaction
from labelmesh.review import pipeline
from labelmesh.review.adapters.repository import ASSIGNED, OPEN, candidates_of
from labelmesh.review.domain import check_labels
from labelmesh.review.usecases import Cause, Review
from labelmesh.v1.events_pb2 import AnnotationCandidate, ProjectMember, ReviewPolicy
from labelmesh.v1.geometry_pb2 import Label

MAX_REASON = 2000


@dataclass(frozen=True)
class ReviewTaskView:
    review_task_id: str
    project_id: str
    item_id: str
    kind: str
    stage: str
    labels: list[Label]
    candidates: list[AnnotationCandidate]
    agreement: float
    reason: str
    status: str
    assignee: str


def task_view(document: Document) -> ReviewTaskView:
    return ReviewTaskView(
        review_task_id=document["_id"],
        project_id=document["project_id"],
        item_id=document["item_id"],
        kind=document["kind"],
        stage=document["stage"],
        labels=labels_from_json(document["labels"]),
        candidates=candidates_of(document),
        agreement=document["agreement"],
        reason=document["reason"],
        status=document["status"],
        assignee=document.get("assignee") or "",
    )


class ReviewTasks:
    def __init__(self, review: Review) -> None:
        self.review = review
        self.repository = review.repository

    async def next_task(self, project_id: str, reviewer: str) -> ReviewTaskView | None:
        """The reviewer's current task, or the oldest open one their roles or teams allow."""
        if not reviewer:
            raise InvalidField("reviewer", "must not be empty")
        member = _member(await self.review.policy(project_id), reviewer)
        if member is None:
            raise InvalidField(
                "reviewer", f"{reviewer!r} is not a member of this project's review policy"
            )
        document = await self.repository.assigned_review_task(project_id, reviewer)
        if document is None:
            document = await self.repository.claim_review_task(
                project_id, reviewer, list(member.roles), list(member.teams)
            )
        return task_view(document) if document else None

    async def get_task(self, task_id: str) -> ReviewTaskView:
        document = await self.repository.get_review_task(task_id)
        if document is None:
            raise NotFound("review task", task_id)
        return task_view(document)

    async def decide(
        self,
        task_id: str,
        reviewer: str,
        approve: bool,
        reason: str,
        labels: Sequence[Label],
    ) -> str:
        """Decide a task; returns where the item went: "next_stage", "completed",
        "sent_back" or "adjudication"."""
        reason = reason.strip()
        if not reviewer:
            raise InvalidField("reviewer", "must not be empty")
        if len(reason) > MAX_REASON:
            raise InvalidField("reason", f"at most {MAX_REASON} characters")
        document = await self.repository.get_review_task(task_id)
        if document is None:
            raise NotFound("review task", task_id)
        task = task_view(document)
        if task.assignee and task.assignee != reviewer:
            raise Conflict(f"review task {task_id!r} is assigned to {task.assignee!r}")
        if task.status not in (OPEN, ASSIGNED):
            raise Conflict(f"review task {task_id!r} is {task.status}")
        if task.kind == "adjudication":
            if not approve:
                raise InvalidField("decision", "an adjudication decides the labels: APPROVED")
            if not reason:
                raise InvalidField("reason", "an adjudication is recorded with its reason")
            check_labels(labels, set((await self.review.project(task.project_id)).classes))
        elif not approve and not reason:
            raise InvalidField("reason", "a rejection needs a reason")
        ctx = await self.review.context(task.project_id)
        _check_may_decide(document, ctx.policy, reviewer)
        item = await self.repository.get_item(task.item_id)
        if item is None or item.review_task_id != task_id:
            await self.repository.cancel_task(task_id)
            raise Conflict(f"item {task.item_id!r} moved on; review task {task_id!r} is cancelled")

        async def write(tx: Transaction) -> str:
            item = await self.repository.get_item(task.item_id, tx)
            if item is None or not await self.repository.close_review_task(tx, task_id, reviewer):
                raise Conflict(f"review task {task_id!r} was decided meanwhile")
            if task.kind == "adjudication":
                fx = pipeline.decide_adjudication(item, task_id, labels, reviewer, reason)
                decided = list(labels)
            else:
                fx = pipeline.decide_review(item, task_id, approve, reviewer, reason, ctx)
                decided = task.labels
            await self.repository.record_reviewer_decision(tx, document, reviewer, approve, decided)
            await self.review.record(tx, [(item, fx, Cause(actor=user_actor(reviewer)))])
            await self.repository.save_items(tx, [item])
            return _outcome(item, fx)

        return await self.review.uow.run(write)

    async def flag_item(self, item_id: str, reason: str, annotation_id: str, user: str) -> str:
        """Send an item back through review by hand; returns where it went."""
        reason = reason.strip()
        if not reason:
            raise InvalidField("reason", "say why the item is flagged")
        if len(reason) > MAX_REASON:
            raise InvalidField("reason", f"at most {MAX_REASON} characters")
        item = await self.repository.get_item(item_id)
        if item is None:
            raise NotFound("item under review", item_id)
        if annotation_id and annotation_id not in {s.annotation_id for s in item.submissions}:
            raise InvalidField("annotation_id", f"not an annotation of item {item_id!r}")
        ctx = await self.review.context(item.project_id)

        async def write(tx: Transaction) -> str:
            current = await self.repository.get_item(item_id, tx)
            assert current is not None
            fx, state = pipeline.flag_item(current, reason, user, annotation_id, ctx)
            await self.review.record(tx, [(current, fx, Cause(actor=user_actor(user)))])
            await self.repository.save_items(tx, [current])
            return state

        return await self.review.uow.run(write)


def _member(policy: ReviewPolicy, user: str) -> ProjectMember | None:
    return next((m for m in policy.members if m.user == user), None)


def _check_may_decide(task: Document, policy: ReviewPolicy, reviewer: str) -> None:
    """Only a member with the task's role or team decides it, never on their own work."""
    member = _member(policy, reviewer)
    allowed = member is not None and (
        (task["role"] and task["role"] in member.roles)
        or (task["team"] and task["team"] in member.teams)
    )
    if not allowed:
        needed = f"role {task['role']!r}" if task["role"] else f"team {task['team']!r}"
        raise InvalidField("reviewer", f"{reviewer!r} lacks the {needed} this task needs")
    if reviewer in task["annotators"]:
        raise Conflict(f"{reviewer!r} annotated this item and cannot review it")


def _outcome(item: pipeline.ItemState, fx: pipeline.Effects) -> str:
    if item.state == pipeline.COMPLETED:
        return "completed"
    if item.state == pipeline.ADJUDICATION:
        return "adjudication"
    if item.state == pipeline.ANNOTATING:
        return "sent_back"
    return "next_stage" if fx.tasks else item.state
