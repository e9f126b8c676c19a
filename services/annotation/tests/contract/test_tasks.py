"""The task repository contract: how event-driven changes shape tasks,
against the twin and SecantusDB."""

from __future__ import annotations

import pytest

from labelmesh.annotation.records import (
    ImportedWork,
    ItemArrived,
    ItemClosed,
    ItemRemoved,
    MarkedGold,
    SuggestionAttached,
    SuggestionsAdded,
    Task,
    TaskChange,
    TaskStatus,
    WorkApproved,
)
from labelmesh.annotation.task_events import TaskEvents
from labelmesh.testing.backends import Backend
from labelmesh.v1.events_pb2 import ModelRef
from labelmesh.v1.geometry_pb2 import Classification, Label, LabelSource

MODEL = ModelRef(id="m", version="1")


def label(suggestion_id: str) -> Label:
    return Label(
        classification=Classification(label="sports"),
        confidence=0.5,
        source=LabelSource(model_id="m", suggestion_id=suggestion_id),
    )


def arrived(item_id: str = "i1", overlap: int = 2) -> ItemArrived:
    return ItemArrived("p1", item_id, 1, f"text of {item_id}", "k", overlap)


def suggested(item_id: str = "i1", status: TaskStatus = TaskStatus.OPEN) -> SuggestionAttached:
    return SuggestionAttached("p1", item_id, [label("s1")], MODEL, status, overlap=3)


async def apply(backend: Backend, tasks: TaskEvents, *changes: TaskChange) -> None:
    async with backend.uow.begin() as tx:
        await tasks.apply(tx, changes)


async def task_of(backend: Backend, tasks: TaskEvents, item_id: str) -> Task:
    async with backend.uow.begin() as tx:
        ids = await tasks.task_ids(tx, [item_id])
    task = await tasks.tasks.get(ids[item_id])
    assert task is not None
    return task


async def test_an_item_then_its_prediction_make_one_open_task(
    backend: Backend, tasks: TaskEvents
) -> None:
    await apply(backend, tasks, arrived(), suggested())
    task = await task_of(backend, tasks, "i1")
    assert (task.item_id, task.project_id, task.status, task.item_ready) == (
        "i1",
        "p1",
        TaskStatus.OPEN,
        True,
    )
    assert (task.data_type, task.text, task.media_key) == (1, "text of i1", "k")
    # The first change created it, with the overlap in force then.
    assert (task.overlap, task.open_slots, task.round, task.rework_count) == (2, 2, 0, 0)
    assert (task.takers, task.assigned, task.submitted, task.assigned_at) == ((), (), (), ())
    assert task.suggestion == (label("s1"),) and task.suggestion_model == MODEL
    assert (task.gold, task.prediction_error, task.dismissed) == (False, "", ())
    assert await tasks.tasks.get("nope") is None


async def test_a_prediction_first_makes_a_task_that_waits_for_its_item(
    backend: Backend, tasks: TaskEvents
) -> None:
    failed = SuggestionAttached("p1", "i1", [], MODEL, TaskStatus.OPEN, 1, "unreadable")
    await apply(backend, tasks, failed)
    task = await task_of(backend, tasks, "i1")
    assert (task.status, task.item_ready, task.overlap) == (TaskStatus.OPEN, False, 1)
    assert (task.suggestion, task.prediction_error) == ((), "unreadable")
    await apply(backend, tasks, arrived(overlap=5))
    after = await task_of(backend, tasks, "i1")
    assert (after.task_id, after.item_ready, after.overlap) == (task.task_id, True, 1)


async def test_gold_is_marked_before_or_after_the_item(backend: Backend, tasks: TaskEvents) -> None:
    await apply(backend, tasks, MarkedGold("p1", "g1", 1), arrived("g1"), arrived("g2"))
    await apply(backend, tasks, MarkedGold("p1", "g2", 4))
    first, second = await task_of(backend, tasks, "g1"), await task_of(backend, tasks, "g2")
    assert (first.gold, first.status, first.item_ready, first.overlap) == (
        True,
        TaskStatus.PENDING,
        True,
        1,
    )
    assert (second.gold, second.status, second.overlap) == (True, TaskStatus.PENDING, 2)


async def test_assist_suggestions_join_only_tasks_still_waiting_for_a_person(
    backend: Backend, tasks: TaskEvents
) -> None:
    await apply(backend, tasks, arrived("i1"), suggested("i1"), arrived("i2"))
    await apply(backend, tasks, suggested("i2", TaskStatus.AUTO_ACCEPTED))
    await apply(
        backend,
        tasks,
        SuggestionsAdded("i1", [label("s2")]),
        SuggestionsAdded("i2", [label("s2")]),
        SuggestionsAdded("unknown", [label("s2")]),
    )
    assert (await task_of(backend, tasks, "i1")).suggestion == (label("s1"), label("s2"))
    assert (await task_of(backend, tasks, "i2")).suggestion == (label("s1"),)
    async with backend.uow.begin() as tx:
        assert set(await tasks.task_ids(tx, ["i1", "i2", "unknown"])) == {"i1", "i2"}


async def test_approval_and_final_labels_close_regular_tasks_only(
    backend: Backend, tasks: TaskEvents
) -> None:
    await apply(backend, tasks, arrived("i1"), suggested("i1"), arrived("i2"), suggested("i2"))
    await apply(backend, tasks, arrived("g"), suggested("g"), MarkedGold("p1", "g", 1))
    await apply(backend, tasks, arrived("waiting"))
    one, gold = await task_of(backend, tasks, "i1"), await task_of(backend, tasks, "g")
    await apply(
        backend,
        tasks,
        WorkApproved(one.task_id),
        WorkApproved(gold.task_id),
        ItemClosed("i2"),
        ItemClosed("g"),
        ItemClosed("waiting"),
    )
    statuses = {i: (await task_of(backend, tasks, i)).status for i in ("i1", "i2", "g", "waiting")}
    assert statuses == {
        "i1": TaskStatus.COMPLETED,
        "i2": TaskStatus.COMPLETED,
        "g": TaskStatus.OPEN,
        "waiting": TaskStatus.PENDING,
    }


async def test_a_rejected_round_reopens_once_and_gold_never(
    backend: Backend, tasks: TaskEvents
) -> None:
    await apply(backend, tasks, arrived("i1"), suggested("i1"), WorkApproved("none"))
    await apply(backend, tasks, arrived("g"), MarkedGold("p1", "g", 1))
    task, gold = await task_of(backend, tasks, "i1"), await task_of(backend, tasks, "g")
    async with backend.uow.begin() as tx:
        assert await tasks.reopen(tx, task.task_id, 0)
        assert not await tasks.reopen(tx, task.task_id, 0)  # that round is over
        assert not await tasks.reopen(tx, gold.task_id, 0)
        assert not await tasks.reopen(tx, "nope", 0)
    after = await task_of(backend, tasks, "i1")
    assert (after.status, after.round, after.rework_count, after.open_slots) == (
        TaskStatus.OPEN,
        1,
        1,
        2,
    )


async def test_a_deleted_item_cancels_its_task_unless_work_was_handed_in(
    backend: Backend, tasks: TaskEvents
) -> None:
    await apply(backend, tasks, arrived("open"), suggested("open"), arrived("pending"))
    await apply(backend, tasks, arrived("g"), suggested("g"), MarkedGold("p1", "g", 1))
    await apply(backend, tasks, arrived("done"), suggested("done"))
    done = await task_of(backend, tasks, "done")
    await apply(backend, tasks, WorkApproved(done.task_id))
    removed = [ItemRemoved("p1", i) for i in ("open", "pending", "g", "done", "unknown")]
    await apply(backend, tasks, *removed)
    # Redelivered, with a late prediction and item: still cancelled, still not queued.
    await apply(backend, tasks, *removed, suggested("open"), suggested("unknown"))
    await apply(backend, tasks, arrived("unknown"))
    found = {i: await task_of(backend, tasks, i) for i in ("open", "pending", "g", "done")}
    found["unknown"] = await task_of(backend, tasks, "unknown")
    assert {i: (t.status, t.item_deleted) for i, t in found.items()} == {
        "open": (TaskStatus.CANCELLED, True),
        "pending": (TaskStatus.CANCELLED, True),
        "g": (TaskStatus.CANCELLED, True),
        "done": (TaskStatus.COMPLETED, True),
        "unknown": (TaskStatus.CANCELLED, True),
    }
    assert found["unknown"].item_ready and found["unknown"].project_id == "p1"
    assert found["open"].suggestion == (label("s1"),)
    assert await tasks.tasks.stats("p1") == {
        "open": 0,
        "assigned": 0,
        "submitted": 0,
        "completed": 1,
        "auto_accepted": 0,
        "pending": 0,
        "gold": 1,
        "cancelled": 3,
    }


async def test_a_rejected_round_of_a_deleted_item_cancels_its_task(
    backend: Backend, tasks: TaskEvents
) -> None:
    # Imported work fills the one slot: the task is submitted when its item is deleted.
    await apply(backend, tasks, arrived("i1", overlap=1), suggested("i1"), ImportedWork("i1", 1))
    await apply(backend, tasks, ItemRemoved("p1", "i1"))
    task = await task_of(backend, tasks, "i1")
    assert (task.status, task.item_deleted) == (TaskStatus.SUBMITTED, True)
    async with backend.uow.begin() as tx:
        assert not await tasks.reopen(tx, task.task_id, 0)
        assert not await tasks.reopen(tx, task.task_id, 0)
    after = await task_of(backend, tasks, "i1")
    assert (after.status, after.round, after.rework_count) == (TaskStatus.CANCELLED, 0, 0)


async def test_a_failed_transaction_changes_no_task(backend: Backend, tasks: TaskEvents) -> None:
    with pytest.raises(RuntimeError):
        async with backend.uow.begin() as tx:
            await tasks.apply(tx, [arrived()])
            raise RuntimeError("boom")
    async with backend.uow.begin() as tx:
        assert await tasks.task_ids(tx, ["i1"]) == {}
