from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from labelmesh.annotation.queue import (
    Presented,
    gold_due,
    presented,
    seconds_spent,
    takes_directly,
    visible_suggestion,
)
from labelmesh.annotation.records import Dismissal, Taken, Task, TaskStatus
from labelmesh.v1.geometry_pb2 import Label, LabelSource

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def schedule(ratio: float, tasks: int) -> str:
    """G for gold, R for regular, over an annotator's first tasks (gold always available)."""
    taken = gold = 0
    out = ""
    for _ in range(tasks):
        is_gold = gold_due(ratio, taken, gold)
        out += "G" if is_gold else "R"
        taken, gold = taken + 1, gold + int(is_gold)
    return out


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [
        (0.0, "RRRRRRRRRRRR"),
        (0.25, "GRRRGRRRGRRR"),
        (0.1, "GRRRRRRRRRGR"),
        (0.5, "GRGRGRGRGRGR"),
    ],
)
def test_gold_comes_at_the_ratio_without_randomness(ratio: float, expected: str) -> None:
    assert schedule(ratio, 12) == expected


def test_gold_share_never_exceeds_the_ratio_for_long() -> None:
    for ratio in (0.05, 0.2, 0.33, 0.9):
        plan = schedule(ratio, 1000)
        assert plan.count("G") == pytest.approx(ratio * 1000, abs=1)


def test_seconds_spent_counts_from_the_annotators_latest_take() -> None:
    assigned_at = [
        Taken("ana", NOW - timedelta(seconds=90)),
        Taken("ben", NOW - timedelta(seconds=10)),
        Taken("ana", NOW - timedelta(seconds=30)),
    ]
    assert seconds_spent(assigned_at, "ana", NOW) == 30
    assert seconds_spent(assigned_at, "cy", NOW) == 0
    assert seconds_spent([], "ana", NOW) == 0


def task(**fields: Any) -> Task:
    for name in ("takers", "assigned", "submitted", "suggestion", "dismissed"):
        if name in fields:
            fields[name] = tuple(fields[name])
    status = TaskStatus(fields.pop("status", "open"))
    return Task(task_id="t", item_id="i", project_id="p", status=status, created_at=NOW, **fields)


def test_a_regular_task_shows_its_holders() -> None:
    one = task(status="assigned", open_slots=0, takers=["ana"], assigned=["ana"])
    assert presented(one) == Presented("assigned", ["ana"], "ana")
    three = task(overlap=3, open_slots=1, takers=["ana", "ben"], assigned=["ana", "ben"])
    assert presented(three) == Presented("open", ["ana", "ben"], "")
    assert presented(three, "ben") == Presented("open", ["ana", "ben"], "ben")
    assert presented(task()) == Presented("open", [], "")


@pytest.mark.parametrize("overlap", [1, 3])
def test_a_gold_task_shows_what_a_regular_task_of_its_overlap_would(overlap: int) -> None:
    gold = task(
        gold=True,
        overlap=overlap,
        status="auto_accepted",
        takers=["ana", "ben", "cy", "dee"],
        assigned=["ben", "dee"],
        submitted=["ana", "cy"],
    )
    regular_open = "assigned" if overlap == 1 else "open"
    regular_done = "submitted" if overlap == 1 else "open"
    assert presented(gold, "ben") == Presented(regular_open, ["ben"], "ben")
    assert presented(gold, "ana") == Presented(regular_done, ["ana"], "ana")
    assert presented(gold) == Presented(regular_open, ["dee"], "dee")  # its latest taker
    assert presented(gold, "eve") == Presented("open", [], "")


def test_only_an_untaken_regular_single_overlap_task_takes_a_direct_submission() -> None:
    assert takes_directly(task())
    assert not takes_directly(task(overlap=2, open_slots=2))
    assert not takes_directly(task(gold=True))
    assert not takes_directly(task(status="assigned", open_slots=0, assigned=["ana"]))


def test_a_rejected_suggestion_is_hidden_from_whoever_rejected_it_only() -> None:
    labels = [Label(source=LabelSource(suggestion_id=s)) for s in ("s1", "s2")]
    shown = task(suggestion=labels, dismissed=[Dismissal("ana", "s1")])
    assert visible_suggestion(shown, "ana") == labels[1:]
    assert visible_suggestion(shown, "ben") == labels
