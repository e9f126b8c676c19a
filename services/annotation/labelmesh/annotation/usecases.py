"""What the annotation APIs do, shared by REST and gRPC."""

from __future__ import annotations

from collections.abc import Sequence

from labelmesh.annotation.claiming import Claims
from labelmesh.annotation.config import SERVICE
from labelmesh.annotation.domain import (
    NewProject,
    ProjectScope,
    create_project,
    page_size,
    page_token,
    position_of,
)
from labelmesh.annotation.metrics import AnnotationMetrics
from labelmesh.annotation.ports import AnnotationStores
from labelmesh.annotation.queue import TaskView, task_view
from labelmesh.annotation.records import StoredAnnotation, Task
from labelmesh.annotation.submissions import Submissions
from labelmesh.core.access import DEFAULT_ORGANIZATION, ProjectCheck
from labelmesh.core.envelopes import Acting, new_envelope
from labelmesh.core.errors import InvalidField, NotFound
from labelmesh.core.uow import Transaction
from labelmesh.v1.events_pb2 import Actor, ProjectCreated, ProjectSpec
from labelmesh.v1.geometry_pb2 import Label

__all__ = ["SERVICE", "Annotation", "TaskView"]


class Annotation:
    """Projects, the task queue and the work handed in."""

    def __init__(self, stores: AnnotationStores, metrics: AnnotationMetrics) -> None:
        self.stores = stores
        self.metrics = metrics
        self.submissions = Submissions(stores, metrics)
        self.claims = Claims(stores, metrics)

    async def create_project(
        self, request: NewProject, actor: Actor, organization_id: str = DEFAULT_ORGANIZATION
    ) -> ProjectSpec:
        """Validate and store a new project of `organization_id`, and announce it."""
        project = create_project(request)
        project.organization_id = organization_id
        created = new_envelope(
            ProjectCreated(project=project),
            producer=SERVICE,
            actor=actor,
            project_id=project.project_id,
        )

        async def write(tx: Transaction) -> None:
            await self.stores.projects.insert(tx, project)
            tx.emit(created)

        await self.stores.uow.run(write)
        return project

    async def get_project(self, project_id: str) -> ProjectSpec:
        """The project; NotFound if there is none with that id."""
        project = await self.stores.projects.get(project_id)
        if project is None:
            raise NotFound("project", project_id)
        return project

    async def list_projects(
        self, scope: ProjectScope, size: int = 0, token: str = ""
    ) -> tuple[list[ProjectSpec], str]:
        """A page of the projects in `scope`, newest first, and the next page's token.

        A page of an organisation is one range of its list's positions; a
        caller listing only its own projects has them read by id, at most a
        few hundred, and paged here."""
        limit, before = page_size(size), position_of(token)
        projects = self.stores.projects
        if scope.project_ids is None:
            stop = before if before is not None else await projects.listed(scope.organization_id)
            start = max(0, stop - limit)
            found = await projects.window(scope.organization_id, start, stop)
            return [p.project for p in found], page_token(start) if start > 0 else ""
        listed = await projects.by_ids(scope.project_ids) if scope.project_ids else []
        visible = sorted(
            (
                p
                for p in listed
                if (before is None or p.position < before) and scope.readable(p.project)
            ),
            key=lambda p: p.position,
            reverse=True,
        )
        page = visible[:limit]
        more = len(visible) > limit
        return [p.project for p in page], page_token(page[-1].position) if more else ""

    async def next_task(self, project_id: str, annotator: str) -> TaskView | None:
        """The annotator's current task, or a new one: a gold task when one is
        due at the project's gold ratio, else a slot of the oldest open task."""
        if not annotator:
            raise InvalidField("annotator", "must not be empty")
        project = await self.get_project(project_id)
        task = await self.claims.next_task(project, annotator)
        return task_view(task, annotator) if task else None

    async def get_task(self, task_id: str, viewer: str = "") -> TaskView:
        """The task; `viewer` is the annotator asking, if known."""
        return task_view(await self._task(task_id), viewer)

    async def task_views(self, task_id: str, viewer: str) -> tuple[TaskView, TaskView]:
        """The task as `viewer` sees it, and as one who may read every label does."""
        task = await self._task(task_id)
        return task_view(task, viewer), task_view(task)

    async def _task(self, task_id: str) -> Task:
        task = await self.stores.tasks.get(task_id)
        if task is None:
            raise NotFound("task", task_id)
        return task

    async def queue_stats(self, project_id: str) -> dict[str, int]:
        """The project's regular tasks by status, and its gold tasks."""
        await self.get_project(project_id)
        return await self.stores.tasks.stats(project_id)

    async def submit(
        self,
        task_id: str,
        annotator: Acting,
        labels: Sequence[Label],
        check: ProjectCheck | None = None,
    ) -> str:
        """Validate and store an annotation; returns its id. Nothing is stored if invalid.

        `check` (here and below) authorises the caller on the task's project once
        the task is read; the secured layer passes it, internal callers need not."""
        return await self.submissions.submit(task_id, annotator, labels, check)

    async def accept_suggestions(
        self,
        task_id: str,
        suggestion_ids: Sequence[str],
        annotator: Acting,
        check: ProjectCheck | None = None,
    ) -> str:
        """The chosen suggestions (all when none is named) become the annotation."""
        return await self.submissions.accept_suggestions(task_id, suggestion_ids, annotator, check)

    async def reject_suggestion(
        self,
        task_id: str,
        suggestion_id: str,
        annotator: Acting,
        reason: str,
        check: ProjectCheck | None = None,
    ) -> None:
        """Take a suggestion off the task for the annotator; the task stays theirs."""
        await self.submissions.reject_suggestion(task_id, suggestion_id, annotator, reason, check)

    async def item_annotations(self, item_id: str) -> list[StoredAnnotation]:
        """Every annotation of an item, human or model, oldest first."""
        return await self.stores.annotations.of_item(item_id)
