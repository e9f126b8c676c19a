"""The one dispatch path: the event table's checks and per-fetch handling, on the twins."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from labelmesh.core.dispatch import Dispatcher, EventTable, IncompleteEventTable, PlainFetch, on
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.core.topics import ITEMS, PROJECTS
from labelmesh.core.uow import Transaction
from labelmesh.testing.memory import InMemoryUnitOfWork
from labelmesh.v1.events_pb2 import (
    AutoAnnotationConfigured,
    Envelope,
    IngestRejected,
    ItemDeleted,
    ItemIngested,
    ProjectCreated,
    ReviewPolicyConfigured,
)


class Recording(PlainFetch):
    def __init__(self, seen: list[str], fail_on: str = "") -> None:
        self.seen = seen
        self.fail_on = fail_on
        self.finished = False
        self.done = False

    async def item(self, tx: Transaction, envelope: Envelope, event: ItemIngested) -> None:
        if event.text == self.fail_on:
            raise RuntimeError("step failed")
        self.seen.append(event.text)
        tx.emit(envelope)

    async def rejected(self, tx: Transaction, envelope: Envelope, event: IngestRejected) -> None:
        self.seen.append(f"rejected {event.field}")

    async def finish(self, tx: Transaction) -> None:
        self.finished = True

    def committed(self) -> None:
        self.done = True


TABLE = EventTable[Recording](
    routes=[on(ItemIngested, Recording.item), on(IngestRejected, Recording.rejected)],
    ignored=[ItemDeleted],
)


def item(text: str) -> Envelope:
    return new_envelope(
        ItemIngested(text=text), producer="t", actor=user_actor("a"), project_id="p", item_id=text
    )


def dispatcher(
    seen: list[str],
    fail_on: str = "",
    max_per_transaction: int | None = None,
    claims_events: bool = True,
) -> tuple[Dispatcher[Recording], list[Recording]]:
    fetches: list[Recording] = []

    async def start(envelopes: Sequence[Envelope]) -> Recording:
        fetches.append(Recording(seen, fail_on))
        return fetches[-1]

    uow = InMemoryUnitOfWork()
    return Dispatcher(TABLE, uow, "test", start, max_per_transaction, claims_events), fetches


def test_a_table_consumes_the_families_of_its_routes() -> None:
    assert TABLE.families == [ITEMS]
    assert TABLE.handles("labelmesh.v1.ItemIngested")
    assert not TABLE.handles("labelmesh.v1.ProjectCreated")


def test_an_event_of_a_consumed_family_without_a_step_is_an_error() -> None:
    with pytest.raises(IncompleteEventTable, match=r"labelmesh\.v1\.IngestRejected"):
        EventTable[Recording](routes=[on(ItemIngested, Recording.item)], ignored=[ItemDeleted])


def test_ignored_events_must_be_declared_and_not_also_routed() -> None:
    async def project(_: object, tx: Transaction, e: Envelope, ev: ReviewPolicyConfigured) -> None:
        return None

    table = EventTable[Recording](
        routes=[on(ReviewPolicyConfigured, project)],
        ignored=[ProjectCreated, AutoAnnotationConfigured],
    )
    assert table.families == [PROJECTS]
    with pytest.raises(IncompleteEventTable, match="both routed and ignored"):
        EventTable[Recording](
            routes=[on(ItemIngested, Recording.item), on(IngestRejected, Recording.rejected)],
            ignored=[IngestRejected, ItemDeleted],
        )
    with pytest.raises(IncompleteEventTable, match="routed twice"):
        EventTable[Recording](
            routes=[
                on(ItemIngested, Recording.item),
                on(ItemIngested, Recording.item),
                on(IngestRejected, Recording.rejected),
            ],
            ignored=[ItemDeleted],
        )


async def test_a_fetch_runs_each_fresh_event_once_in_order_in_one_transaction() -> None:
    seen: list[str] = []
    events, fetches = dispatcher(seen)
    a, b = item("a"), item("b")
    rejected = new_envelope(
        IngestRejected(field="items[0]"), producer="t", actor=user_actor("x"), project_id="p"
    )
    await events.handle([a, rejected, b, a])
    await events.handle([b])
    assert seen == ["a", "rejected items[0]", "b"]
    assert fetches[0].finished and fetches[0].done
    uow = events.uow
    assert isinstance(uow, InMemoryUnitOfWork)
    assert uow.commits == 2
    assert [e.item_id for e in uow.outbox] == ["a", "b"]


async def test_without_claims_every_event_reaches_the_steps_and_nothing_is_marked() -> None:
    seen: list[str] = []
    events, _ = dispatcher(seen, claims_events=False)
    a = item("a")
    await events.handle([a, a])
    await events.handle([a])
    # Dropping the replays is the steps' own work then.
    assert seen == ["a", "a", "a"]
    uow = events.uow
    assert isinstance(uow, InMemoryUnitOfWork)
    async with uow.begin() as tx:
        assert await tx.claim_events([a.event_id], "test") == {a.event_id}


async def test_a_failing_step_leaves_nothing_claimed_or_emitted() -> None:
    seen: list[str] = []
    events, fetches = dispatcher(seen, fail_on="bad")
    with pytest.raises(RuntimeError, match="step failed"):
        await events.handle([item("good"), item("bad")])
    assert not fetches[0].done
    uow = events.uow
    assert isinstance(uow, InMemoryUnitOfWork)
    assert uow.outbox == []
    good = item("good")
    await events.handle([good])
    assert [e.event_id for e in uow.outbox] == [good.event_id]


async def test_a_fetch_of_nothing_routed_opens_no_transaction() -> None:
    events, fetches = dispatcher([])
    project = new_envelope(ProjectCreated(), producer="t", actor=user_actor("a"), project_id="p")
    await events.handle([project])
    assert fetches == []


async def test_a_long_fetch_is_handled_in_parts_of_at_most_the_cap_in_order() -> None:
    seen: list[str] = []
    events, fetches = dispatcher(seen, max_per_transaction=2)
    await events.handle([item(text) for text in "abcde"])
    assert seen == list("abcde")
    assert len(fetches) == 3 and all(f.done for f in fetches)
    uow = events.uow
    assert isinstance(uow, InMemoryUnitOfWork)
    assert uow.commits == 3


async def test_a_failing_part_keeps_the_parts_before_it_and_a_retry_adds_only_the_rest() -> None:
    seen: list[str] = []
    events, _ = dispatcher(seen, fail_on="bad", max_per_transaction=2)
    fetch = [item("a"), item("b"), item("bad"), item("c")]
    with pytest.raises(RuntimeError, match="step failed"):
        await events.handle(fetch)
    uow = events.uow
    assert isinstance(uow, InMemoryUnitOfWork)
    assert [e.item_id for e in uow.outbox] == ["a", "b"]
    await events.handle([e for e in fetch if e.item_id != "bad"])
    assert [e.item_id for e in uow.outbox] == ["a", "b", "c"]


def test_the_cap_must_allow_an_event() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        dispatcher([], max_per_transaction=0)
