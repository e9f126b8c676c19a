"""The task queue contract: taking, handing in, dismissing and counting,
against the twin and SecantusDB."""

from __future__ import annotations

import pytest

from labelmesh.annotation.ports import TaskQueue, TaskRepository
from labelmesh.annotation.records import (
    Dismissal,
    ItemArrived,
    MarkedGold,
    Progress,
    SuggestionAttached,
    Task,
    TaskStatus,
)
from labelmesh.testing.backends import Backend
from labelmesh.v1.events_pb2 import ModelRef

MODEL = ModelRef(id="m", version="1")


async def open_tasks(
    backend: Backend, tasks: TaskRepository, *item_ids: str, overlap: int = 1, gold: bool = False
) -> list[Task]:
    """Ready tasks with a suggestion, created in the order given (oldest first)."""
    created = []
    for item_id in item_ids:
        async with backend.uow.begin() as tx:
            changes = [
                ItemArrived("p1", item_id, 1, "t", "", overlap),
                SuggestionAttached("p1", item_id, [], MODEL, TaskStatus.OPEN, overlap),
            ]
            if gold:
                changes.append(MarkedGold("p1", item_id, overlap))
            await tasks.apply(tx, changes)
            task_id = (await tasks.task_ids(tx, [item_id]))[item_id]
        task = await tasks.get(task_id)
        assert task is not None
        created.append(task)
    return created


async def test_regular_claims_take_the_oldest_slot_once_per_annotator(
    backend: Backend, tasks: TaskRepository, queue: TaskQueue
) -> None:
    first, second = await open_tasks(backend, tasks, "i1", "i2", overlap=2)
    ana = await queue.claim_regular("p1", "ana")
    assert ana is not None and ana.task_id == first.task_id
    assert (ana.status, ana.open_slots, ana.takers, ana.assigned) == (
        TaskStatus.OPEN,
        1,
        ("ana",),
        ("ana",),
    )
    assert [t.annotator for t in ana.assigned_at] == ["ana"]
    again = await queue.claim_regular("p1", "ana")
    assert again is not None and again.task_id == second.task_id
    ben = await queue.claim_regular("p1", "ben")
    assert ben is not None and ben.task_id == first.task_id
    assert (ben.status, ben.open_slots, ben.takers) == (TaskStatus.ASSIGNED, 0, ("ana", "ben"))
    assert await queue.claim_regular("p1", "ana") is None
    assert await queue.claim_regular("other", "cy") is None
    current = await queue.current_task("p1", "ben")
    assert current is not None and current.task_id == first.task_id
    assert await queue.current_task("p1", "cy") is None


async def test_tasks_not_ready_or_gold_are_not_claimed_as_regular(
    backend: Backend, tasks: TaskRepository, queue: TaskQueue
) -> None:
    async with backend.uow.begin() as tx:
        await tasks.apply(tx, [SuggestionAttached("p1", "no-item", [], MODEL, TaskStatus.OPEN, 1)])
    await open_tasks(backend, tasks, "g", gold=True)
    assert await queue.claim_regular("p1", "ana") is None


async def test_gold_is_claimed_once_per_annotator_and_keeps_its_status(
    backend: Backend, tasks: TaskRepository, queue: TaskQueue
) -> None:
    [gold] = await open_tasks(backend, tasks, "g", gold=True)
    for annotator in ("ana", "ben"):
        taken = await queue.claim_gold("p1", annotator)
        assert taken is not None and taken.task_id == gold.task_id
        assert (taken.status, taken.open_slots) == (TaskStatus.OPEN, 1)
    assert await queue.claim_gold("p1", "ana") is None
    current = await queue.current_task("p1", "ana")
    assert current is not None and current.assigned == ("ana", "ben")


async def test_handing_in_moves_the_annotator_to_submitted(
    backend: Backend, tasks: TaskRepository, queue: TaskQueue
) -> None:
    [task] = await open_tasks(backend, tasks, "i1", overlap=2)
    await queue.claim_regular("p1", "ana")
    await queue.claim_regular("p1", "ben")
    async with backend.uow.begin() as tx:
        before = await queue.hand_in(tx, task.task_id, "ana", direct=False)
        assert before is not None and before.assigned == ("ana", "ben")
        assert await queue.hand_in(tx, task.task_id, "ana", direct=False) is None
        assert await queue.hand_in(tx, task.task_id, "cy", direct=False) is None
    after = await tasks.get(task.task_id)
    assert after is not None
    assert (after.status, after.assigned, after.submitted) == (
        TaskStatus.ASSIGNED,
        ("ben",),
        ("ana",),
    )
    async with backend.uow.begin() as tx:
        await queue.hand_in(tx, task.task_id, "ben", direct=False)
    done = await tasks.get(task.task_id)
    assert done is not None and done.status == TaskStatus.SUBMITTED


async def test_a_direct_hand_in_takes_the_only_slot_of_an_untaken_task(
    backend: Backend, tasks: TaskRepository, queue: TaskQueue
) -> None:
    single, shared = await open_tasks(backend, tasks, "i1", "i2", overlap=1)
    async with backend.uow.begin() as tx:
        before = await queue.hand_in(tx, single.task_id, "ana", direct=True)
        assert before is not None and before.takers == ()
        assert await queue.hand_in(tx, single.task_id, "ben", direct=True) is None
    after = await tasks.get(single.task_id)
    assert after is not None
    assert (after.status, after.takers, after.submitted, after.open_slots) == (
        TaskStatus.SUBMITTED,
        ("ana",),
        ("ana",),
        0,
    )
    await queue.claim_regular("p1", "ben")
    async with backend.uow.begin() as tx:
        assert await queue.hand_in(tx, shared.task_id, "cy", direct=True) is None


async def test_a_suggestion_is_dismissed_only_by_whoever_works_on_the_task(
    backend: Backend, tasks: TaskRepository, queue: TaskQueue
) -> None:
    untaken, taken = await open_tasks(backend, tasks, "i1", "i2", overlap=1)
    await queue.claim_regular("p1", "ana")  # takes i1, the oldest
    async with backend.uow.begin() as tx:
        assert await queue.dismiss_suggestion(tx, untaken.task_id, "ana", "s1")
        assert await queue.dismiss_suggestion(tx, taken.task_id, "ben", "s2")  # untaken
        assert not await queue.dismiss_suggestion(tx, untaken.task_id, "ben", "s3")
        assert not await queue.dismiss_suggestion(tx, "nope", "ana", "s1")
    first = await tasks.get(untaken.task_id)
    assert first is not None and first.dismissed == (Dismissal("ana", "s1"),)


async def test_progress_counts_tasks_and_gold_per_annotator(queue: TaskQueue) -> None:
    assert await queue.progress_of("p1", "ana") == Progress(0, 0)
    await queue.count_taken("p1", "ana", gold=True)
    await queue.count_taken("p1", "ana", gold=False)
    await queue.count_taken("p2", "ana", gold=False)
    assert await queue.progress_of("p1", "ana") == Progress(2, 1)
    assert await queue.progress_of("p1", "ben") == Progress(0, 0)


async def test_stats_count_regular_tasks_by_status_and_gold_apart(
    backend: Backend, tasks: TaskRepository, queue: TaskQueue
) -> None:
    await open_tasks(backend, tasks, "i1", "i2")
    await open_tasks(backend, tasks, "g", gold=True)
    async with backend.uow.begin() as tx:
        await tasks.apply(tx, [ItemArrived("p1", "w", 1, "", "", 1)])
    await queue.claim_regular("p1", "ana")
    assert await queue.stats("p1") == {
        "open": 1,
        "assigned": 1,
        "submitted": 0,
        "completed": 0,
        "auto_accepted": 0,
        "pending": 1,
        "gold": 1,
    }
    assert set((await queue.stats("other")).values()) == {0}


async def test_a_failed_transaction_hands_nothing_in(
    backend: Backend, tasks: TaskRepository, queue: TaskQueue
) -> None:
    [task] = await open_tasks(backend, tasks, "i1")
    with pytest.raises(RuntimeError):
        async with backend.uow.begin() as tx:
            await queue.hand_in(tx, task.task_id, "ana", direct=True)
            raise RuntimeError("boom")
    after = await tasks.get(task.task_id)
    assert after is not None and (after.status, after.submitted) == (TaskStatus.OPEN, ())
