"""The annotation service's storage ports. MongoDB implements them in
`adapters/`; in-memory twins live in `labelmesh.testing.twins.annotation`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from labelmesh.annotation.records import (
    Changed,
    Lane,
    LaneState,
    ListedProject,
    Progress,
    StoredAnnotation,
    Task,
)
from labelmesh.core.uow import Transaction, UnitOfWork
from labelmesh.v1.events_pb2 import ProjectSpec, ReviewPolicy


class ProjectRepository(Protocol):
    """The projects annotation owns."""

    async def insert(self, tx: Transaction, project: ProjectSpec) -> None:
        """Store a new project, last in its organisation's list; raises Conflict if
        its id is taken."""
        ...

    async def get(self, project_id: str) -> ProjectSpec | None: ...

    async def listed(self, organization_id: str) -> int:
        """How many projects the organisation's list holds: the next free position."""
        ...

    async def window(self, organization_id: str, start: int, stop: int) -> list[ListedProject]:
        """The organisation's projects at positions [start, stop), newest first."""
        ...

    async def by_ids(self, project_ids: Iterable[str]) -> list[ListedProject]:
        """The projects with these ids that exist, in no particular order."""
        ...

    async def overlaps(self, tx: Transaction, project_ids: Iterable[str]) -> dict[str, int]:
        """The overlap in force in each project; projects not found are left out."""
        ...

    async def update_review_policy(
        self, tx: Transaction, project_id: str, policy: ReviewPolicy
    ) -> bool:
        """Keep a newer version of the project's review policy; False if not newer or no project."""
        ...


class TaskStore(Protocol):
    """Tasks as stored, read by id, by item, by holder or by queue position, and written
    back together with the queue statistics their changes move. Every read that
    takes a transaction reads its snapshot, so writing what it read conflicts with
    any change made meanwhile (and the unit of work runs the transaction again)."""

    async def get(self, task_id: str) -> Task | None: ...

    async def by_ids(self, tx: Transaction, task_ids: Sequence[str]) -> dict[str, Task]: ...

    async def by_items(self, tx: Transaction, item_ids: Sequence[str]) -> dict[str, Task]:
        """The task of each item that has one, by item id."""
        ...

    async def held_by(self, annotators: Sequence[str], tx: Transaction | None = None) -> list[Task]:
        """Every task one of the annotators holds a slot of (is working on or was, when closed)."""
        ...

    async def window(
        self, tx: Transaction, project_id: str, lane: Lane, start: int, stop: int
    ) -> list[Task]:
        """The tasks at positions [start, stop) of the project's lane, in position order."""
        ...

    async def save(self, tx: Transaction, changes: Sequence[Changed]) -> None:
        """Store new and changed tasks, and count their moves between statuses."""
        ...

    async def stats(self, project_id: str) -> dict[str, int]:
        """Regular tasks by status, and gold tasks (under "gold")."""
        ...


class QueueStore(Protocol):
    """Where each lane of a project's queue stands, and each annotator's progress."""

    async def lanes(self, tx: Transaction, project_id: str) -> dict[Lane, LaneState]: ...

    async def reserve(self, tx: Transaction, project_id: str, lane: Lane, count: int) -> int:
        """Take `count` new positions at the back of the lane; returns the first."""
        ...

    async def advance(self, tx: Transaction, project_id: str, heads: dict[Lane, int]) -> None:
        """Move lanes' heads forward (never back)."""
        ...

    async def progress(
        self, tx: Transaction, project_id: str, annotators: Sequence[str]
    ) -> dict[str, Progress]:
        """Each annotator's progress in the project (zero for one never seen)."""
        ...

    async def save_progress(
        self, tx: Transaction, project_id: str, progress: dict[str, Progress]
    ) -> None: ...


class AnnotationRepository(Protocol):
    """Annotations of items, human or model."""

    async def insert(self, tx: Transaction, annotations: Sequence[StoredAnnotation]) -> None:
        """Store annotations, stamped with the time; raises Conflict on a taken id."""
        ...

    async def of_item(self, item_id: str) -> list[StoredAnnotation]:
        """Every annotation of an item, oldest first."""
        ...

    async def known(self, tx: Transaction, annotation_ids: Sequence[str]) -> set[str]:
        """Those of the ids that are stored already."""
        ...


@dataclass(frozen=True)
class AnnotationStores:
    """The repositories and the unit of work the use cases go through."""

    projects: ProjectRepository
    tasks: TaskStore
    queue: QueueStore
    annotations: AnnotationRepository
    uow: UnitOfWork
