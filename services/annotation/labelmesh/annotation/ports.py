"""The annotation service's storage ports. MongoDB implements them in
`adapters/`; in-memory twins live in `labelmesh.testing.twins.annotation`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from labelmesh.annotation.records import Progress, StoredAnnotation, Task, TaskChange
from labelmesh.core.uow import Transaction, UnitOfWork
from labelmesh.v1.events_pb2 import ProjectSpec, ReviewPolicy


class ProjectRepository(Protocol):
    """The projects annotation owns."""

    async def insert(self, tx: Transaction, project: ProjectSpec) -> None:
        """Store a new project; raises Conflict if its id is taken."""
        ...

    async def get(self, project_id: str) -> ProjectSpec | None: ...

    async def overlaps(self, tx: Transaction, project_ids: Iterable[str]) -> dict[str, int]:
        """The overlap in force in each project; projects not found are left out."""
        ...

    async def update_review_policy(
        self, tx: Transaction, project_id: str, policy: ReviewPolicy
    ) -> bool:
        """Keep a newer version of the project's review policy; False if not newer or no project."""
        ...


class TaskRepository(Protocol):
    """Tasks as events change them, and reading them by id."""

    async def apply(self, tx: Transaction, changes: Sequence[TaskChange]) -> None:
        """Apply task changes in order, in one round trip."""
        ...

    async def reopen(self, tx: Transaction, task_id: str, round_: int) -> bool:
        """Start the next round of a rejected regular task; False if that round is already over."""
        ...

    async def task_ids(self, tx: Transaction, item_ids: Sequence[str]) -> dict[str, str]:
        """The task id of each item that has a task."""
        ...

    async def get(self, task_id: str) -> Task | None: ...


class TaskQueue(Protocol):
    """Taking, handing in and counting tasks: each step changes one task atomically."""

    async def current_task(self, project_id: str, annotator: str) -> Task | None:
        """The task the annotator works on now, if any."""
        ...

    async def claim_regular(self, project_id: str, annotator: str) -> Task | None:
        """Take a slot of the oldest open ready task the annotator has not taken this round."""
        ...

    async def claim_gold(self, project_id: str, annotator: str) -> Task | None:
        """Take the oldest ready gold task the annotator has never answered."""
        ...

    async def progress_of(self, project_id: str, annotator: str) -> Progress: ...

    async def count_taken(self, project_id: str, annotator: str, *, gold: bool) -> None:
        """Count one more task (gold or not) taken by the annotator."""
        ...

    async def hand_in(
        self, tx: Transaction, task_id: str, annotator: str, *, direct: bool
    ) -> Task | None:
        """Move the annotator from working to submitted; returns the task as it was.

        `direct` takes the only slot of an untaken overlap-1 task and submits
        in the same step. None if the annotator may not submit (any more).
        """
        ...

    async def dismiss_suggestion(
        self, tx: Transaction, task_id: str, annotator: str, suggestion_id: str
    ) -> bool:
        """Hide a suggestion from the annotator; False if they no longer work on the task."""
        ...

    async def stats(self, project_id: str) -> dict[str, int]:
        """Regular tasks by status, and gold tasks (under "gold")."""
        ...


class AnnotationRepository(Protocol):
    """Annotations of items, human or model."""

    async def insert(self, tx: Transaction, annotations: Sequence[StoredAnnotation]) -> None:
        """Store annotations, stamped with the time; raises Conflict on a taken id."""
        ...

    async def of_item(self, item_id: str) -> list[StoredAnnotation]:
        """Every annotation of an item, oldest first."""
        ...


@dataclass(frozen=True)
class AnnotationStores:
    """The repositories and the unit of work the use cases go through."""

    projects: ProjectRepository
    tasks: TaskRepository
    queue: TaskQueue
    annotations: AnnotationRepository
    uow: UnitOfWork
