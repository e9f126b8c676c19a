"""What the annotation repositories take and return: tasks, their changes,
stored annotations. Plain values; how they are stored is the adapters' business."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from labelmesh.v1.events_pb2 import ModelRef, ProjectSpec
from labelmesh.v1.geometry_pb2 import Label


class TaskStatus(StrEnum):
    """Where a task is in its life."""

    PENDING = "pending"  # waiting for the item or its prediction
    OPEN = "open"  # at least one slot free
    ASSIGNED = "assigned"  # every slot taken, someone still working
    SUBMITTED = "submitted"  # every annotator of the round submitted
    COMPLETED = "completed"
    AUTO_ACCEPTED = "auto_accepted"
    CANCELLED = "cancelled"  # its item was deleted before work on it was handed in


# Queue statistics count regular tasks by status, and gold tasks apart.
GOLD = "gold"


class Lane(StrEnum):
    """The two queues of a project: regular tasks share slots, gold tasks are answered once each."""

    REGULAR = "regular"
    GOLD = "gold"


# The position of a task that waits in no queue.
UNQUEUED = -1


class AnnotationSource(StrEnum):
    """Who made an annotation's labels."""

    HUMAN = "human"
    SUGGESTION = "suggestion"  # an annotator accepted model suggestions
    MODEL = "model"  # auto-accepted, nobody looked
    IMPORTED = "imported"  # made by people in another tool, brought in with the item


class AnnotationDecision(StrEnum):
    """What decided a stored annotation without review; none for human work."""

    AUTO_ACCEPTED = "auto_accepted"


@dataclass(frozen=True)
class Taken:
    """An annotator took the task at `at`."""

    annotator: str
    at: datetime


@dataclass(frozen=True)
class Dismissal:
    """An annotator rejected one suggestion of the task."""

    annotator: str
    suggestion_id: str


@dataclass(frozen=True)
class Task:
    """One item's task: its details, its suggestion and its slots.

    A round has `overlap` slots; `takers` took one this round, `assigned` are
    working, `submitted` handed in. Gold tasks have no slot limit.
    """

    task_id: str
    item_id: str
    project_id: str
    status: TaskStatus
    created_at: datetime
    gold: bool = False
    item_ready: bool = False
    data_type: int = 0
    text: str = ""
    media_key: str = ""
    overlap: int = 1
    round: int = 0
    open_slots: int = 1
    rework_count: int = 0
    takers: tuple[str, ...] = ()
    assigned: tuple[str, ...] = ()
    submitted: tuple[str, ...] = ()
    assigned_at: tuple[Taken, ...] = ()
    dismissed: tuple[Dismissal, ...] = ()
    suggestion: tuple[Label, ...] = ()
    suggestion_model: ModelRef = field(default_factory=ModelRef)
    prediction_error: str = ""
    # Its place in its lane's queue: a new one each time the task becomes takeable.
    position: int = UNQUEUED
    # The item was deleted: no round starts again, whatever the task's status.
    item_deleted: bool = False

    @property
    def lane(self) -> Lane:
        return Lane.GOLD if self.gold else Lane.REGULAR


@dataclass(frozen=True)
class Changed:
    """A task as it was (None if new) and as it is to be stored."""

    before: Task | None
    after: Task
    # A task stored before the queue statistics existed counts as new there
    # (`before` None), but is stored already: it is replaced, not inserted.
    stored: bool = False

    @property
    def inserted(self) -> bool:
        return self.before is None and not self.stored


# How events change tasks: intents the task repository applies in order.


@dataclass(frozen=True)
class ItemArrived:
    """Fill in the item's details on its task, creating a pending task if needed."""

    project_id: str
    item_id: str
    data_type: int
    text: str
    media_key: str
    overlap: int


@dataclass(frozen=True)
class SuggestionAttached:
    """Attach a model suggestion (possibly none) to the item's task and set its status,
    creating the task (not ready yet) if needed."""

    project_id: str
    item_id: str
    labels: Sequence[Label]
    model: ModelRef
    status: TaskStatus
    overlap: int
    prediction_error: str = ""


@dataclass(frozen=True)
class MarkedGold:
    """Make the item's task a gold task, creating a pending one if needed."""

    project_id: str
    item_id: str
    overlap: int


@dataclass(frozen=True)
class SuggestionsAdded:
    """Add on-demand suggestions to a task that still waits for a person."""

    item_id: str
    labels: Sequence[Label]


@dataclass(frozen=True)
class WorkApproved:
    """Approved work closes a regular task."""

    task_id: str


@dataclass(frozen=True)
class ItemClosed:
    """An item with final labels closes its regular task if it is still in progress."""

    item_id: str


@dataclass(frozen=True)
class ItemRemoved:
    """A deleted item cancels its task if nobody handed in work on it yet, creating
    a cancelled one if needed, so that its later events open nothing."""

    project_id: str
    item_id: str


@dataclass(frozen=True)
class ImportedWork:
    """Annotations made in another tool fill `count` free slots of the item's task."""

    item_id: str
    count: int


TaskChange = (
    ItemArrived
    | SuggestionAttached
    | MarkedGold
    | SuggestionsAdded
    | WorkApproved
    | ItemClosed
    | ImportedWork
    | ItemRemoved
)


@dataclass(frozen=True)
class StoredAnnotation:
    """An annotation of an item: a person's work, or a model's that was auto-accepted."""

    annotation_id: str
    task_id: str
    item_id: str
    project_id: str
    annotator: str
    source: AnnotationSource
    labels: tuple[Label, ...]
    # The round of a person's work; None for a model's.
    round: int | None = None
    decision: AnnotationDecision | None = None
    threshold: float | None = None
    rule_version: int = 0
    prediction_id: str = ""
    # Set by the repository when stored.
    created_at: datetime | None = None
    # An imported annotation's tool, the name it gave its annotator, when it was
    # made there and its id there; empty for work done in LabelMesh.
    origin: str = ""
    origin_annotator: str = ""
    origin_created_at: datetime | None = None
    origin_id: str = ""


@dataclass(frozen=True)
class Progress:
    """How many tasks, and gold tasks, an annotator took in a project, and how far
    along each lane they have looked: every task before a cursor is one they took
    or one nobody could take when they passed it."""

    tasks_taken: int = 0
    gold_taken: int = 0
    regular_cursor: int = 0
    gold_cursor: int = 0

    def cursor(self, lane: Lane) -> int:
        return self.gold_cursor if lane == Lane.GOLD else self.regular_cursor


@dataclass(frozen=True)
class LaneState:
    """A lane of a project's queue: the next free position, and the first one that
    may still hold a takeable task (everything before it is taken or closed)."""

    next: int = 0
    head: int = 0


@dataclass(frozen=True)
class ListedProject:
    """A project and its place in its organisation's list: 0 for the first created."""

    position: int
    project: ProjectSpec
