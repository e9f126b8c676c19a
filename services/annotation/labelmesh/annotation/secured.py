"""What the annotation APIs call: each use case behind its caller's authorisation.

Annotators work as themselves: a request naming another annotator is
refused. A task is shown to whoever may read every label in its project, and
otherwise only to the annotator holding it, as they see it (a gold task looks
like any other).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from labelmesh.annotation.domain import NewProject, ProjectScope
from labelmesh.annotation.queue import TaskView
from labelmesh.annotation.records import StoredAnnotation
from labelmesh.annotation.usecases import Annotation
from labelmesh.core.access import (
    Permission,
    Principal,
    ProjectGate,
    acting_as,
    authorize_organization,
    check_of,
    grants,
    ref_of,
)
from labelmesh.core.errors import NotFound
from labelmesh.v1.events_pb2 import ProjectSpec
from labelmesh.v1.geometry_pb2 import Label


@dataclass(frozen=True)
class SecuredAnnotation:
    annotation: Annotation
    gate: ProjectGate

    async def create_project(self, caller: Principal, request: NewProject) -> ProjectSpec:
        authorize_organization(caller, Permission.CREATE_PROJECT)
        return await self.annotation.create_project(request, caller.actor, caller.organization_id)

    async def get_project(self, caller: Principal, project_id: str) -> ProjectSpec:
        await self.gate.check(caller, Permission.READ_PROJECT, project_id)
        return await self.annotation.get_project(project_id)

    async def list_projects(
        self, caller: Principal, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[ProjectSpec], str]:
        """The projects the caller may read: all of its organisation's for an
        organisation-wide role, else those it holds a role in (within its key's scope)."""
        return await self.annotation.list_projects(readable_by(caller), page_size, page_token)

    async def queue_stats(self, caller: Principal, project_id: str) -> dict[str, int]:
        await self.gate.check(caller, Permission.READ_PROJECT, project_id)
        return await self.annotation.queue_stats(project_id)

    async def next_task(
        self, caller: Principal, project_id: str, annotator: str = ""
    ) -> TaskView | None:
        await self.gate.check(caller, Permission.ANNOTATE, project_id)
        return await self.annotation.next_task(
            project_id, acting_as(caller, annotator, "annotator").id
        )

    async def get_task(self, caller: Principal, task_id: str) -> TaskView:
        view, whole = await self.annotation.task_views(task_id, caller.subject)
        holds = caller.subject in view.assignees or caller.subject == view.assignee
        if holds and await self.gate.allows(caller, Permission.ANNOTATE, view.project_id):
            return view
        if await self.gate.allows(caller, Permission.READ_LABELS, view.project_id):
            return whole
        raise NotFound("task", task_id)

    async def submit(
        self, caller: Principal, task_id: str, labels: Sequence[Label], annotator: str = ""
    ) -> str:
        return await self.annotation.submit(
            task_id,
            acting_as(caller, annotator, "annotator"),
            labels,
            check_of(caller, Permission.ANNOTATE),
        )

    async def accept_suggestions(
        self,
        caller: Principal,
        task_id: str,
        suggestion_ids: Sequence[str],
        annotator: str = "",
    ) -> str:
        return await self.annotation.accept_suggestions(
            task_id,
            suggestion_ids,
            acting_as(caller, annotator, "annotator"),
            check_of(caller, Permission.ANNOTATE),
        )

    async def reject_suggestion(
        self,
        caller: Principal,
        task_id: str,
        suggestion_id: str,
        reason: str,
        annotator: str = "",
    ) -> None:
        await self.annotation.reject_suggestion(
            task_id,
            suggestion_id,
            acting_as(caller, annotator, "annotator"),
            reason,
            check_of(caller, Permission.ANNOTATE),
        )

    async def item_annotations(self, caller: Principal, item_id: str) -> list[StoredAnnotation]:
        """Every annotation of the item, to those who may read every label of its project."""
        annotations = await self.annotation.item_annotations(item_id)
        if annotations:
            await self.gate.check(caller, Permission.READ_LABELS, annotations[0].project_id)
        return annotations


def readable_by(caller: Principal) -> ProjectScope:
    """The projects `caller` may read, as a scope to list."""
    if grants(caller.organization_wide(), Permission.READ_PROJECT):
        return ProjectScope(caller.organization_id)
    # A scoped key's organisation-wide roles hold in each project of its scope.
    candidates = set(caller.project_roles)
    if caller.organization_roles:
        candidates |= caller.project_scope
    return ProjectScope(
        caller.organization_id,
        frozenset(candidates),
        lambda project: grants(caller.roles_in(ref_of(project)), Permission.READ_PROJECT),
    )
