"""What each event-driven change and each person's step does to a task. Pure:
the stores load tasks, these functions compute the new ones, the stores save
them (with the counters they move).

A task carries the item's details too (taken from ItemIngested), so that
ItemIngested, PredictionCreated and GoldStandardSet can arrive in any order:
whichever comes first creates the task with the overlap in force at that moment.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

from labelmesh.annotation.queue import status_from_slots, takes_directly, works_on
from labelmesh.annotation.records import (
    Dismissal,
    ImportedWork,
    ItemArrived,
    ItemClosed,
    ItemRemoved,
    MarkedGold,
    SuggestionAttached,
    SuggestionsAdded,
    Taken,
    Task,
    TaskChange,
    TaskStatus,
    WorkApproved,
)
from labelmesh.v1.events_pb2 import ModelRef
from labelmesh.v1.geometry_pb2 import Label

# Statuses on-demand suggestions may still join.
WAITING = (TaskStatus.PENDING, TaskStatus.OPEN, TaskStatus.ASSIGNED)
# Statuses an item's completion closes.
CLOSABLE = (TaskStatus.OPEN, TaskStatus.ASSIGNED, TaskStatus.SUBMITTED)
# Statuses in which imported work may still fill free slots.
FILLABLE = (TaskStatus.PENDING, TaskStatus.OPEN)
# Statuses an item's deletion cancels: nobody handed in this round's work yet.
CANCELLABLE = (TaskStatus.PENDING, TaskStatus.OPEN, TaskStatus.ASSIGNED)


def now() -> datetime:
    return datetime.now(UTC)


def copies(labels: Iterable[Label]) -> tuple[Label, ...]:
    copied = []
    for label in labels:
        copy = Label()
        copy.CopyFrom(label)
        copied.append(copy)
    return tuple(copied)


def new_task(
    change: ItemArrived | SuggestionAttached | MarkedGold, status: TaskStatus, *, gold: bool = False
) -> Task:
    """The task of an item seen for the first time: `overlap` slots in round 0."""
    return Task(
        task_id=str(uuid.uuid4()),
        item_id=change.item_id,
        project_id=change.project_id,
        status=status,
        created_at=now(),
        gold=gold,
        overlap=change.overlap,
        open_slots=change.overlap,
    )


def cancelled_task(change: ItemRemoved) -> Task:
    """The task of an item deleted before anything else was heard of it."""
    return Task(
        task_id=str(uuid.uuid4()),
        item_id=change.item_id,
        project_id=change.project_id,
        status=TaskStatus.CANCELLED,
        created_at=now(),
        open_slots=0,
        item_deleted=True,
    )


def changed(task: Task | None, change: TaskChange) -> Task | None:
    """The task after the change; None when the change creates nothing and finds nothing."""
    match change:
        case ItemArrived():
            base = task or new_task(change, TaskStatus.PENDING)
            return replace(
                base,
                project_id=change.project_id,
                data_type=change.data_type,
                text=change.text,
                media_key=change.media_key,
                item_ready=True,
            )
        case SuggestionAttached():
            base = task or new_task(change, change.status)
            return replace(
                base,
                project_id=change.project_id,
                status=_status_with_suggestion(base, change.status),
                suggestion=copies(change.labels),
                suggestion_model=ModelRef(id=change.model.id, version=change.model.version),
                prediction_error=change.prediction_error,
            )
        case MarkedGold():
            base = task or new_task(change, TaskStatus.PENDING, gold=True)
            return replace(base, project_id=change.project_id, gold=True)
        case SuggestionsAdded():
            if task is None or task.status not in WAITING:
                return task
            return replace(task, suggestion=task.suggestion + copies(change.labels))
        case WorkApproved():
            if task is None or task.gold or task.status == TaskStatus.CANCELLED:
                return task
            return replace(task, status=TaskStatus.COMPLETED)
        case ItemClosed():
            if task is None or task.gold or task.status not in CLOSABLE:
                return task
            return replace(task, status=TaskStatus.COMPLETED)
        case ImportedWork():
            if task is None or task.gold or task.status not in FILLABLE:
                return task
            left = max(0, task.open_slots - change.count)
            filled = replace(task, open_slots=left)
            # With every slot filled nobody is asked to label the item this round.
            return replace(filled, status=TaskStatus.SUBMITTED) if left == 0 else filled
        case ItemRemoved():
            if task is None:
                return cancelled_task(change)
            if task.item_deleted:
                return task
            # Work handed in stays under review; the rest is never handed out.
            cancelled = task.status in CANCELLABLE
            status = TaskStatus.CANCELLED if cancelled else task.status
            return replace(task, status=status, item_deleted=True)


def _status_with_suggestion(task: Task, asked: TaskStatus) -> TaskStatus:
    """A suggestion opens a task for people, unless every slot of its round is
    filled already (by imported work, or by people) or its item was deleted:
    then it keeps its status."""
    if task.item_deleted:
        return task.status
    if asked == TaskStatus.OPEN and not task.gold and task.open_slots == 0:
        return task.status
    return asked


def reopened(task: Task, round_: int) -> Task | None:
    """The next round of a rejected regular task, every slot free again; None if the
    rejection is about a round already over (or a gold task). A task whose item
    was deleted has no next round: it is cancelled instead."""
    if task.gold or task.round != round_ or task.status == TaskStatus.CANCELLED:
        return None
    if task.item_deleted:
        return replace(task, status=TaskStatus.CANCELLED)
    return replace(
        task,
        status=TaskStatus.OPEN,
        round=task.round + 1,
        open_slots=task.overlap,
        takers=(),
        assigned=(),
        submitted=(),
        assigned_at=(),
        rework_count=task.rework_count + 1,
    )


def taken(task: Task, annotator: str, at: datetime) -> Task:
    """The annotator takes a slot (a regular task) or their one turn (a gold task)."""
    took = replace(
        task,
        takers=(*task.takers, annotator),
        assigned=(*task.assigned, annotator),
        assigned_at=(*task.assigned_at, Taken(annotator, at)),
        open_slots=task.open_slots if task.gold else task.open_slots - 1,
    )
    return replace(took, status=status_from_slots(took))


def handed_in(task: Task, annotator: str, *, direct: bool) -> Task | None:
    """The annotator moves from working to submitted; None if they may not (any more).

    `direct` takes the only slot of an untaken overlap-1 task and submits in the same step.
    """
    if direct:
        if not takes_directly(task):
            return None
        moved = replace(
            task,
            takers=(*task.takers, annotator),
            submitted=(*task.submitted, annotator),
            open_slots=task.open_slots - 1,
        )
    else:
        if not works_on(task, annotator):
            return None
        moved = replace(
            task,
            assigned=tuple(holder for holder in task.assigned if holder != annotator),
            submitted=(*task.submitted, annotator),
        )
    return replace(moved, status=status_from_slots(moved))


def dismissed(task: Task, annotator: str, suggestion_id: str) -> Task | None:
    """The suggestion hidden from the annotator; None if they no longer work on the task."""
    if task.status == TaskStatus.CANCELLED:
        return None
    if annotator not in task.assigned and not takes_directly(task):
        return None
    return replace(task, dismissed=(*task.dismissed, Dismissal(annotator, suggestion_id)))
