"""What the review APIs call: each use case behind its caller's authorisation.

Reviewers and experts work as themselves. A review task is shown to whoever
may read every label in its project, and to the reviewer holding it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from labelmesh.core.access import Permission, Principal, ProjectGate, acting_as
from labelmesh.core.errors import NotFound
from labelmesh.review.facade import ItemStatus, ReviewApi
from labelmesh.review.quality import GoldResult
from labelmesh.review.records import Outcome, ReviewTask, TaskKind, Window
from labelmesh.v1.events_pb2 import ReviewPolicy
from labelmesh.v1.geometry_pb2 import Label
from labelmesh.v1.review_service_pb2 import (
    AnnotationScore,
    AnnotatorStats,
    GetAgreementReportResponse,
    ReviewerStats,
)


@dataclass(frozen=True)
class SecuredReview:
    api: ReviewApi
    gate: ProjectGate

    async def item_status(self, caller: Principal, item_id: str) -> ItemStatus:
        status = await self.api.item_status(item_id)
        if status.project_id:
            await self.gate.check(caller, Permission.READ_LABELS, status.project_id)
        return status

    async def policy(self, caller: Principal, project_id: str) -> ReviewPolicy:
        await self.gate.check(caller, Permission.READ_PROJECT, project_id)
        return await self.api.policy(project_id)

    async def configure_policy(
        self, caller: Principal, project_id: str, policy: ReviewPolicy, user: str = ""
    ) -> ReviewPolicy:
        await self.gate.check(caller, Permission.CONFIGURE_PROJECT, project_id)
        who = acting_as(caller, user, "user")
        return await self.api.quality.configure_policy(project_id, policy, who)

    async def set_gold(
        self,
        caller: Principal,
        project_id: str,
        items: Sequence[tuple[str, Sequence[Label]]],
        user: str = "",
    ) -> list[GoldResult]:
        await self.gate.check(caller, Permission.CONFIGURE_PROJECT, project_id)
        return await self.api.quality.set_gold(project_id, items, acting_as(caller, user, "user"))

    async def next_task(
        self, caller: Principal, project_id: str, reviewer: str = ""
    ) -> ReviewTask | None:
        await self.gate.check(caller, Permission.REVIEW, project_id)
        return await self.api.tasks.next_task(
            project_id, acting_as(caller, reviewer, "reviewer").id
        )

    async def get_task(self, caller: Principal, task_id: str) -> ReviewTask:
        task = await self.api.tasks.get_task(task_id)
        if task.assignee == caller.subject and await self.gate.allows(
            caller, Permission.REVIEW, task.project_id
        ):
            return task
        if await self.gate.allows(caller, Permission.READ_LABELS, task.project_id):
            return task
        raise NotFound("review task", task_id)

    async def decide(
        self,
        caller: Principal,
        task_id: str,
        approve: bool,
        reason: str,
        labels: Sequence[Label],
        reviewer: str = "",
    ) -> Outcome:
        task = await self.api.tasks.get_task(task_id)
        needed = Permission.ADJUDICATE if task.kind == TaskKind.ADJUDICATION else Permission.REVIEW
        await self.gate.check(caller, needed, task.project_id)
        who = acting_as(caller, reviewer, "reviewer")
        return await self.api.tasks.decide(task_id, who, approve, reason, labels)

    async def flag_item(
        self, caller: Principal, item_id: str, reason: str, annotation_id: str, user: str = ""
    ) -> Outcome:
        project_id = await self.api.item_project(item_id)
        if project_id is None:
            raise NotFound("item", item_id)
        await self.gate.check(caller, Permission.FLAG, project_id)
        who = acting_as(caller, user, "user")
        return await self.api.tasks.flag_item(item_id, reason, annotation_id, who)

    async def annotation_scores(self, caller: Principal, window: Window) -> list[AnnotationScore]:
        await self.gate.check(caller, Permission.READ_REPORTS, window.project_id)
        return await self.api.quality.annotation_scores(window)

    async def annotator_report(self, caller: Principal, window: Window) -> list[AnnotatorStats]:
        await self.gate.check(caller, Permission.READ_REPORTS, window.project_id)
        return await self.api.quality.annotator_report(window)

    async def reviewer_report(self, caller: Principal, window: Window) -> list[ReviewerStats]:
        await self.gate.check(caller, Permission.READ_REPORTS, window.project_id)
        return await self.api.quality.reviewer_report(window)

    async def agreement_report(
        self, caller: Principal, window: Window
    ) -> GetAgreementReportResponse:
        await self.gate.check(caller, Permission.READ_REPORTS, window.project_id)
        return await self.api.quality.agreement_report(window)
