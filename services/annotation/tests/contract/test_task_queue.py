"""The task queue on the twins and on SecantusDB: claiming through lanes and
cursors, gold mixing, handing in, counting, and what a failed claim leaves."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from labelmesh.annotation.claiming import WINDOW, Claims
from labelmesh.annotation.ports import AnnotationStores, QueueStore, TaskStore
from labelmesh.annotation.records import (
    Changed,
    ItemArrived,
    ItemRemoved,
    Lane,
    MarkedGold,
    Progress,
    SuggestionAttached,
    Task,
    TaskStatus,
)
from labelmesh.annotation.task_changes import dismissed, handed_in
from labelmesh.annotation.task_events import TaskEvents
from labelmesh.core.uow import Transaction
from labelmesh.testing.backends import Backend
from labelmesh.v1.events_pb2 import ModelRef, ProjectSpec, ReviewPolicy

MODEL = ModelRef(id="m", version="1")


def project(gold_ratio: float = 0.0) -> ProjectSpec:
    return ProjectSpec(project_id="p1", review_policy=ReviewPolicy(gold_ratio=gold_ratio))


async def open_tasks(
    backend: Backend, tasks: TaskEvents, *item_ids: str, overlap: int = 1, gold: bool = False
) -> list[Task]:
    """Ready tasks with a suggestion, queued in the order given, in one transaction."""
    changes = []
    for item_id in item_ids:
        changes += [
            ItemArrived("p1", item_id, 1, "t", "", overlap),
            SuggestionAttached("p1", item_id, [], MODEL, TaskStatus.OPEN, overlap),
        ]
        if gold:
            changes.append(MarkedGold("p1", item_id, overlap))
    async with backend.uow.begin() as tx:
        await tasks.apply(tx, changes)
        ids = await tasks.task_ids(tx, list(item_ids))
    found = [await tasks.tasks.get(ids[item_id]) for item_id in item_ids]
    assert all(found)
    return [task for task in found if task is not None]


async def hand_in(backend: Backend, store: TaskStore, task_id: str, annotator: str) -> Task:
    async with backend.uow.begin() as tx:
        before = (await store.by_ids(tx, [task_id]))[task_id]
        after = handed_in(before, annotator, direct=False)
        assert after is not None
        await store.save(tx, [Changed(before, after)])
    return after


async def test_claims_take_the_oldest_slot_once_per_annotator(
    backend: Backend, tasks: TaskEvents, store: TaskStore, claims: Claims
) -> None:
    first, second = await open_tasks(backend, tasks, "i1", "i2", overlap=2)
    ana = await claims.next_task(project(), "ana")
    assert ana is not None and ana.task_id == first.task_id
    assert (ana.status, ana.open_slots, ana.takers, ana.assigned) == (
        TaskStatus.OPEN,
        1,
        ("ana",),
        ("ana",),
    )
    assert [t.annotator for t in ana.assigned_at] == ["ana"]
    # Until she hands it in, her next task is the same one.
    again = await claims.next_task(project(), "ana")
    assert again is not None and again.task_id == first.task_id
    await hand_in(backend, store, first.task_id, "ana")
    after = await claims.next_task(project(), "ana")
    assert after is not None and after.task_id == second.task_id
    ben = await claims.next_task(project(), "ben")
    assert ben is not None and ben.task_id == first.task_id
    assert (ben.status, ben.open_slots, ben.takers) == (TaskStatus.ASSIGNED, 0, ("ana", "ben"))
    await hand_in(backend, store, second.task_id, "ana")
    assert await claims.next_task(project(), "ana") is None
    assert await claims.next_task(ProjectSpec(project_id="other"), "cy") is None


async def test_tasks_not_ready_or_gold_are_not_claimed_as_regular(
    backend: Backend, tasks: TaskEvents, claims: Claims
) -> None:
    async with backend.uow.begin() as tx:
        await tasks.apply(tx, [SuggestionAttached("p1", "no-item", [], MODEL, TaskStatus.OPEN, 1)])
    await open_tasks(backend, tasks, "g", gold=True)
    assert await claims.next_task(project(), "ana") is None


async def test_cancelled_tasks_are_neither_claimed_nor_anyones_current_task(
    backend: Backend, tasks: TaskEvents, store: TaskStore, claims: Claims
) -> None:
    held, waiting, kept = await open_tasks(backend, tasks, "held", "waiting", "kept", overlap=2)
    [gold] = await open_tasks(backend, tasks, "g", gold=True)
    ana = await claims.next_task(project(), "ana")
    assert ana is not None and ana.task_id == held.task_id
    async with backend.uow.begin() as tx:
        await tasks.apply(tx, [ItemRemoved("p1", i) for i in ("held", "waiting", "g")])
    # Ana's held task is gone: her next task is the one left, as everyone's is.
    ana = await claims.next_task(project(), "ana")
    ben = await claims.next_task(project(gold_ratio=1.0), "ben")
    assert ana is not None and ana.task_id == kept.task_id
    assert ben is not None and ben.task_id == kept.task_id
    assert await claims.next_task(project(gold_ratio=1.0), "cy") is None
    [still_held] = [t for t in await store.held_by(["ana"]) if t.task_id == held.task_id]
    assert still_held.status == TaskStatus.CANCELLED
    for task in (waiting, gold):
        stored = await store.get(task.task_id)
        assert stored is not None and stored.status == TaskStatus.CANCELLED


async def test_gold_is_due_at_the_ratio_and_answered_once_per_annotator(
    backend: Backend, tasks: TaskEvents, store: TaskStore, queue: QueueStore, claims: Claims
) -> None:
    [gold] = await open_tasks(backend, tasks, "g", gold=True)
    [regular] = await open_tasks(backend, tasks, "r", overlap=2)
    for annotator in ("ana", "ben"):
        taken = await claims.next_task(project(gold_ratio=0.5), annotator)
        assert taken is not None and taken.task_id == gold.task_id
        assert (taken.status, taken.open_slots) == (TaskStatus.OPEN, 1)
    async with backend.uow.begin() as tx:
        assert await queue.progress(tx, "p1", ["ana"]) == {"ana": Progress(1, 1, 0, 1)}
    await hand_in(backend, store, gold.task_id, "ana")
    # Gold was her first task; at 0.5 the next is regular, and she never gets the gold again.
    following = await claims.next_task(project(gold_ratio=0.5), "ana")
    assert following is not None and following.task_id == regular.task_id
    await hand_in(backend, store, regular.task_id, "ana")
    assert await claims.next_task(project(gold_ratio=0.5), "ana") is None
    async with backend.uow.begin() as tx:
        assert (await queue.progress(tx, "p1", ["ana"]))["ana"].tasks_taken == 2


async def test_one_annotators_concurrent_claims_get_one_task(
    backend: Backend, tasks: TaskEvents, store: TaskStore, claims: Claims
) -> None:
    await open_tasks(backend, tasks, "i1", "i2", "i3")
    taken = await asyncio.gather(*(claims.next_task(project(), "ana") for _ in range(5)))
    assert len({t.task_id for t in taken if t is not None}) == 1
    held = await store.held_by(["ana"])
    assert [t.takers for t in held] == [("ana",)]


async def test_many_annotators_at_once_share_the_slots_without_overlap(
    backend: Backend, tasks: TaskEvents, store: TaskStore, claims: Claims
) -> None:
    created = await open_tasks(backend, tasks, *(f"i{n}" for n in range(6)), overlap=2)
    people = [f"a{n}" for n in range(12)]
    taken = await asyncio.gather(*(claims.next_task(project(), who) for who in people))
    assert all(t is not None for t in taken)
    stored = [await store.get(t.task_id) for t in created]
    assert sorted(who for t in stored if t for who in t.takers) == sorted(people)
    assert all(t is not None and len(t.takers) == 2 and t.open_slots == 0 for t in stored)
    assert await claims.next_task(project(), "late") is None


@dataclass
class FailingProgress:
    """A queue store whose progress writes fail, as a crash between two writes would."""

    inner: QueueStore

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def save_progress(self, *_: object) -> None:
        raise RuntimeError("crash before the counters were written")


async def test_a_claim_and_the_annotators_counters_move_together(
    backend: Backend, tasks: TaskEvents, stores: AnnotationStores, claims: Claims
) -> None:
    [gold] = await open_tasks(backend, tasks, "g", gold=True)
    broken = AnnotationStores(
        stores.projects, stores.tasks, FailingProgress(stores.queue), stores.annotations, stores.uow
    )
    with pytest.raises(RuntimeError, match="crash"):
        await Claims(broken, claims.metrics).next_task(project(gold_ratio=1.0), "ana")
    after = await stores.tasks.get(gold.task_id)
    assert after is not None and after.takers == ()
    async with backend.uow.begin() as tx:
        assert await stores.queue.progress(tx, "p1", ["ana"]) == {"ana": Progress()}
    taken = await claims.next_task(project(gold_ratio=1.0), "ana")
    assert taken is not None and taken.task_id == gold.task_id


async def test_cursors_and_the_head_carry_claims_past_many_windows(
    backend: Backend, tasks: TaskEvents, store: TaskStore, queue: QueueStore, claims: Claims
) -> None:
    count = WINDOW + 6
    created = await open_tasks(backend, tasks, *(f"i{n:03}" for n in range(count)), overlap=2)
    for expected in created:
        taken = await claims.next_task(project(), "ana")
        assert taken is not None and taken.task_id == expected.task_id
        await hand_in(backend, store, taken.task_id, "ana")
    assert await claims.next_task(project(), "ana") is None
    async with backend.uow.begin() as tx:
        assert (await queue.progress(tx, "p1", ["ana"]))["ana"].regular_cursor == count
    # Ben starts at the head: the oldest task, which has a slot left.
    ben = await claims.next_task(project(), "ben")
    assert ben is not None and ben.task_id == created[0].task_id
    # Once every slot of the first window is taken, the head moves past it.
    for _ in range(WINDOW + 1):
        taken = await claims.next_task(project(), "ben")
        assert taken is not None
        await hand_in(backend, store, taken.task_id, "ben")
    async with backend.uow.begin() as tx:
        assert (await queue.lanes(tx, "p1"))[Lane.REGULAR].head >= WINDOW


async def test_a_reopened_task_waits_again_for_its_annotators(
    backend: Backend, tasks: TaskEvents, store: TaskStore, claims: Claims
) -> None:
    [task] = await open_tasks(backend, tasks, "i1")
    taken = await claims.next_task(project(), "ana")
    assert taken is not None
    await hand_in(backend, store, task.task_id, "ana")
    assert await claims.next_task(project(), "ana") is None
    async with backend.uow.begin() as tx:
        assert await tasks.reopen(tx, task.task_id, 0)
    again = await claims.next_task(project(), "ana")
    assert again is not None and (again.task_id, again.round) == (task.task_id, 1)
    assert again.position > task.position


async def test_statistics_follow_every_write(
    backend: Backend, tasks: TaskEvents, store: TaskStore, claims: Claims
) -> None:
    await open_tasks(backend, tasks, "i1", "i2")
    await open_tasks(backend, tasks, "g", gold=True)
    async with backend.uow.begin() as tx:
        await tasks.apply(tx, [ItemArrived("p1", "w", 1, "", "", 1)])
    taken = await claims.next_task(project(), "ana")
    assert taken is not None
    assert await store.stats("p1") == {
        "open": 1,
        "assigned": 1,
        "submitted": 0,
        "completed": 0,
        "auto_accepted": 0,
        "pending": 1,
        "gold": 1,
        "cancelled": 0,
    }
    await hand_in(backend, store, taken.task_id, "ana")
    stats = await store.stats("p1")
    assert (stats["assigned"], stats["submitted"]) == (0, 1)
    assert set((await store.stats("other")).values()) == {0}


async def test_a_suggestion_is_dismissed_only_by_whoever_works_on_the_task(
    backend: Backend, tasks: TaskEvents, claims: Claims
) -> None:
    untaken, taken = await open_tasks(backend, tasks, "i1", "i2")
    await claims.next_task(project(), "ana")  # takes i1, the oldest
    first = await tasks.tasks.get(untaken.task_id)
    second = await tasks.tasks.get(taken.task_id)
    assert first is not None and second is not None
    assert dismissed(first, "ana", "s1") is not None
    assert dismissed(second, "ben", "s2") is not None  # nobody took it
    assert dismissed(first, "ben", "s3") is None


async def test_two_writers_creating_one_items_task_make_one_task(
    backend: Backend, tasks: TaskEvents
) -> None:
    async def write(change: ItemArrived | SuggestionAttached) -> None:
        await backend.uow.run(lambda tx: tasks.apply(tx, [change]))

    await asyncio.gather(
        write(ItemArrived("p1", "i1", 1, "t", "", 1)),
        write(SuggestionAttached("p1", "i1", [], MODEL, TaskStatus.OPEN, 1)),
    )
    async with backend.uow.begin() as tx:
        [task] = (await tasks.tasks.by_items(tx, ["i1"])).values()
    assert (task.item_ready, task.status, task.position) == (True, TaskStatus.OPEN, 0)
    assert (await tasks.tasks.stats("p1"))["open"] == 1


async def test_a_failed_transaction_hands_nothing_in(
    backend: Backend, tasks: TaskEvents, store: TaskStore
) -> None:
    [task] = await open_tasks(backend, tasks, "i1")
    with pytest.raises(RuntimeError):
        async with backend.uow.begin() as tx:
            after = handed_in(task, "ana", direct=True)
            assert after is not None
            await store.save(tx, [Changed(task, after)])
            raise RuntimeError("boom")
    stored = await store.get(task.task_id)
    assert stored is not None and (stored.status, stored.submitted) == (TaskStatus.OPEN, ())


async def test_an_item_arriving_twice_at_once_gets_one_task_counted_once(
    backend: Backend, tasks: TaskEvents, store: TaskStore
) -> None:
    async def arrive(tx: Transaction) -> None:
        await tasks.apply(tx, [ItemArrived("p1", "i1", 1, "t", "", 1)])

    # Both transactions find no task; on MongoDB the second insert collides and
    # that transaction runs again, finding the first one's task.
    await asyncio.gather(backend.uow.run(arrive), backend.uow.run(arrive))
    async with backend.uow.begin() as tx:
        assert list(await store.by_items(tx, ["i1"])) == ["i1"]
    stats = await store.stats("p1")
    assert sum(stats.values()) == 1
