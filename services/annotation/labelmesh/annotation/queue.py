"""Rules of the task queue: slots, gold mixing and how a task looks to the
person viewing it. Pure: no I/O.

One task document per item holds `overlap` slots per round. Annotators take a
slot each (`takers`), work on it (`assigned`) and submit (`submitted`). Gold
tasks have no slot limit: each annotator answers one once, and it never leaves
the queue. Whoever looks at a gold task sees it in the state a regular task of
the same overlap would be in, so that gold cannot be told apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

PENDING = "pending"  # waiting for the item or its prediction
OPEN = "open"  # at least one slot free
ASSIGNED = "assigned"  # every slot taken, someone still working
SUBMITTED = "submitted"  # every annotator of the round submitted
COMPLETED = "completed"
AUTO_ACCEPTED = "auto_accepted"
STATUSES = (OPEN, ASSIGNED, SUBMITTED, COMPLETED, AUTO_ACCEPTED, PENDING)


def gold_due(gold_ratio: float, tasks_taken: int, gold_taken: int) -> bool:
    """Whether an annotator's next task should be gold.

    Gold is due while it would stay at or below its share of the annotator's
    tasks counting the next one: gold_taken < gold_ratio * (tasks_taken + 1).
    At 0.25 that is the 1st, 5th, 9th... task; no randomness is involved.
    """
    return gold_ratio > 0 and gold_taken < gold_ratio * (tasks_taken + 1)


def seconds_spent(assigned_at: Sequence[Mapping[str, Any]], annotator: str, now: datetime) -> float:
    """Seconds since the annotator last took the task; 0 when unknown."""
    taken = [entry["at"] for entry in assigned_at if entry.get("annotator") == annotator]
    return max(0.0, (now - max(taken)).total_seconds()) if taken else 0.0


@dataclass(frozen=True)
class Presented:
    """What a viewer is shown of a task's state."""

    status: str
    assignees: list[str]
    assignee: str


def presented(task: Mapping[str, Any], viewer: str = "") -> Presented:
    """The task's status and holders as `viewer` sees them.

    `viewer` is the annotator asking about their own task (empty when unknown).
    A regular task shows who holds a slot this round; `assignee` is the viewer
    if they hold one, else the only holder. A gold task shows only the viewer
    (or its latest taker), in the state a regular task would have if that
    person were the only one to have taken it.
    """
    takers: list[str] = list(task.get("takers") or [])
    status: str = task["status"]
    if not task.get("gold") or status == PENDING:
        if viewer and viewer in takers:
            return Presented(status, takers, viewer)
        return Presented(status, takers, takers[0] if len(takers) == 1 else "")
    holder = viewer or (takers[-1] if takers else "")
    single = int(task.get("overlap") or 1) == 1
    if holder in (task.get("assigned") or []):
        return Presented(ASSIGNED if single else OPEN, [holder], holder)
    if holder in (task.get("submitted") or []):
        return Presented(SUBMITTED if single else OPEN, [holder], holder)
    return Presented(OPEN, [], "")


def visible_suggestion(task: Mapping[str, Any], viewer: str) -> list[dict[str, Any]]:
    """The task's suggestions less those the viewer rejected."""
    dismissed = {
        entry["suggestion_id"]
        for entry in task.get("dismissed") or []
        if entry.get("annotator") == viewer
    }
    return [
        label
        for label in task.get("suggestion") or []
        if not dismissed or (label.get("source") or {}).get("suggestionId") not in dismissed
    ]


def takes_directly(task: Mapping[str, Any]) -> bool:
    """An overlap-1 task nobody took may be submitted without NextTask, as before overlap."""
    return (
        not task.get("gold")
        and task["status"] == OPEN
        and int(task.get("overlap") or 1) == 1
        and int(task.get("open_slots") or 0) > 0
        and not task.get("assigned")
    )
