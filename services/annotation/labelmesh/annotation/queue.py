"""Rules of the task queue: slots, gold mixing and how a task looks to the
person viewing it. Pure: no I/O.

One task per item holds `overlap` slots per round. Annotators take a slot
each (`takers`), work on it (`assigned`) and submit (`submitted`). Gold tasks
have no slot limit: each annotator answers one once, and it never leaves the
queue. Whoever looks at a gold task sees it in the state a regular task of
the same overlap would be in, so that gold cannot be told apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from labelmesh.annotation.records import UNQUEUED, Taken, Task, TaskStatus
from labelmesh.core.fields import carry_fields
from labelmesh.v1.events_pb2 import ModelRef
from labelmesh.v1.geometry_pb2 import Label

# Statuses in the order queue statistics list them.
STATUSES = (
    TaskStatus.OPEN,
    TaskStatus.ASSIGNED,
    TaskStatus.SUBMITTED,
    TaskStatus.COMPLETED,
    TaskStatus.AUTO_ACCEPTED,
    TaskStatus.PENDING,
    TaskStatus.CANCELLED,
)
# Statuses in which an annotator may still be working on a regular task.
IN_PROGRESS = (TaskStatus.OPEN, TaskStatus.ASSIGNED)


def gold_due(gold_ratio: float, tasks_taken: int, gold_taken: int) -> bool:
    """Whether an annotator's next task should be gold.

    Gold is due while it would stay at or below its share of the annotator's
    tasks counting the next one: gold_taken < gold_ratio * (tasks_taken + 1).
    At 0.25 that is the 1st, 5th, 9th... task; no randomness is involved.
    """
    return gold_ratio > 0 and gold_taken < gold_ratio * (tasks_taken + 1)


def seconds_spent(assigned_at: Sequence[Taken], annotator: str, now: datetime) -> float:
    """Seconds since the annotator last took the task; 0 when unknown."""
    taken = [entry.at for entry in assigned_at if entry.annotator == annotator]
    return max(0.0, (now - max(taken)).total_seconds()) if taken else 0.0


def status_from_slots(task: Task) -> TaskStatus:
    """A regular task's status after a slot changed hands; a gold task keeps its own."""
    if task.gold:
        return task.status
    if task.open_slots > 0:
        return TaskStatus.OPEN
    return TaskStatus.ASSIGNED if task.assigned else TaskStatus.SUBMITTED


@dataclass(frozen=True)
class Presented:
    """What a viewer is shown of a task's state."""

    status: TaskStatus
    assignees: list[str]
    assignee: str


def presented(task: Task, viewer: str = "") -> Presented:
    """The task's status and holders as `viewer` sees them.

    `viewer` is the annotator asking about their own task (empty when unknown).
    A regular task shows who holds a slot this round; `assignee` is the viewer
    if they hold one, else the only holder. A gold task shows only the viewer
    (or its latest taker), in the state a regular task would have if that
    person were the only one to have taken it.
    """
    takers = list(task.takers)
    status = task.status
    if task.gold and status == TaskStatus.CANCELLED:
        mine = [viewer] if viewer in takers else []
        return Presented(status, mine, viewer if mine else "")
    if not task.gold or status == TaskStatus.PENDING:
        if viewer and viewer in takers:
            return Presented(status, takers, viewer)
        return Presented(status, takers, takers[0] if len(takers) == 1 else "")
    holder = viewer or (takers[-1] if takers else "")
    single = task.overlap == 1
    if holder in task.assigned:
        return Presented(TaskStatus.ASSIGNED if single else TaskStatus.OPEN, [holder], holder)
    if holder in task.submitted:
        return Presented(TaskStatus.SUBMITTED if single else TaskStatus.OPEN, [holder], holder)
    return Presented(TaskStatus.OPEN, [], "")


def visible_suggestion(task: Task, viewer: str) -> list[Label]:
    """The task's suggestions less those the viewer rejected."""
    dismissed = {entry.suggestion_id for entry in task.dismissed if entry.annotator == viewer}
    return [
        label
        for label in task.suggestion
        if not dismissed or label.source.suggestion_id not in dismissed
    ]


def queued(task: Task) -> bool:
    """Whether the task waits in its lane for someone to take it: a ready regular task
    with a free slot, or a ready gold task (which never leaves its lane)."""
    if not task.item_ready or task.status == TaskStatus.CANCELLED:
        return False
    if task.gold:
        return task.status != TaskStatus.PENDING
    return task.status == TaskStatus.OPEN and task.open_slots > 0


def takeable_by(task: Task, annotator: str) -> bool:
    """Whether the annotator may take the task now: queued, and not taken by them this round."""
    return queued(task) and annotator not in task.takers


def needs_position(before: Task | None, after: Task) -> bool:
    """A task that starts waiting (again, or in the other lane) goes to the back of its lane.

    Everything else keeps its place, so the cursors that passed a task stay right:
    a task only becomes takeable again by getting a new position.
    """
    if not queued(after):
        return False
    if before is None or after.position == UNQUEUED:
        return True
    return not queued(before) or before.lane != after.lane


def takes_directly(task: Task) -> bool:
    """An overlap-1 task nobody took may be submitted without NextTask, as before overlap."""
    return (
        not task.gold
        and task.status == TaskStatus.OPEN
        and task.overlap == 1
        and task.open_slots > 0
        and not task.assigned
    )


def works_on(task: Task, annotator: str) -> bool:
    """Whether the annotator holds a slot of the task and has not handed in yet."""
    if task.status == TaskStatus.CANCELLED:
        return False
    return annotator in task.assigned and (task.gold or task.status in IN_PROGRESS)


@dataclass(frozen=True)
class TaskView:
    """A task as an annotator sees it: the same fields for every task, gold or not."""

    task_id: str
    project_id: str
    item_id: str
    data_type: int
    text: str
    media_key: str
    suggestion: list[Label]
    suggestion_model: ModelRef
    status: TaskStatus
    assignee: str
    assignees: list[str]


def task_view(task: Task, viewer: str = "") -> TaskView:
    """The task as `viewer` (an annotator asking about their own task) sees it;
    without a viewer, as its only holder would."""
    shown = presented(task, viewer)
    model = ModelRef()
    model.CopyFrom(task.suggestion_model)
    return carry_fields(
        TaskView,
        task,
        suggestion=visible_suggestion(task, viewer or shown.assignee),
        suggestion_model=model,
        status=shown.status,
        assignee=shown.assignee,
        assignees=shown.assignees,
    )
