"""The audit use cases and its event table, on the in-memory twins."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.message import Message
from prometheus_client import CollectorRegistry

from labelmesh.audit import handlers
from labelmesh.audit.metrics import AuditMetrics
from labelmesh.audit.records import AuditEntry, AuditQuery, Scope
from labelmesh.audit.usecases import SERVICE, Audit, page_size
from labelmesh.core.dispatch import Dispatcher
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.core.errors import InvalidField, NotFound
from labelmesh.core.topics import FAMILIES, FAMILY_OF_EVENT
from labelmesh.core.uow import Transaction
from labelmesh.testing.memory import InMemoryUnitOfWork, MemoryState
from labelmesh.testing.twins.audit import ENTRIES, InMemoryAuditRepository
from labelmesh.v1.events_pb2 import (
    AnnotationSubmitted,
    Envelope,
    ItemCompleted,
    ItemIngested,
    ProjectCreated,
    ProjectSpec,
)
from labelmesh.v1.geometry_pb2 import Classification, Label


class Service:
    def __init__(self) -> None:
        self.state = MemoryState()
        self.uow = InMemoryUnitOfWork(self.state)
        self.repository = InMemoryAuditRepository(self.state)
        self.registry = CollectorRegistry()
        self.audit = Audit(self.repository, AuditMetrics(self.registry))
        self.events = Dispatcher(
            handlers.TABLE, self.uow, SERVICE, handlers.fetch_starter(self.audit)
        )

    def entries_counted(self, producer: str) -> float:
        value = self.registry.get_sample_value(
            "labelmesh_audit_entries_total", {"producer": producer}
        )
        return value or 0.0

    def verifications(self, result: str) -> float:
        value = self.registry.get_sample_value(
            "labelmesh_audit_verifications_total", {"result": result}
        )
        return value or 0.0


@pytest.fixture
def service() -> Service:
    return Service()


def item_event(item_id: str, text: str = "t", producer: str = "ingest") -> Envelope:
    return new_envelope(
        ItemIngested(text=text),
        producer=producer,
        actor=user_actor("alice"),
        project_id="p",
        item_id=item_id,
    )


def test_the_table_routes_every_event_of_every_family() -> None:
    assert handlers.TABLE.families == sorted(FAMILIES)
    assert all(handlers.TABLE.handles(f"labelmesh.v1.{name}") for name in FAMILY_OF_EVENT)


async def test_a_fetch_is_appended_to_its_chains_in_one_transaction(service: Service) -> None:
    created = new_envelope(
        ProjectCreated(project=ProjectSpec(project_id="p")),
        producer="annotation",
        actor=user_actor("lead"),
        project_id="p",
    )
    fetch = [created, item_event("i1", "a"), item_event("i2"), item_event("i1", "b")]
    await service.events.handle(fetch)
    assert service.uow.commits == 1
    trail = await service.audit.item_trail("i1")
    assert [e.event_id for e in trail] == [fetch[1].event_id, fetch[3].event_id]
    assert [e.sequence for e in trail] == [0, 1]
    assert trail[1].previous_hash == trail[0].hash
    assert trail[0].envelope == fetch[1].SerializeToString(deterministic=True)
    assert [e.event_id for e in await service.repository.trail("project:p")] == [created.event_id]
    assert service.entries_counted("ingest") == 3
    assert service.entries_counted("annotation") == 1
    assert service.uow.outbox == []


async def test_replays_append_nothing(service: Service) -> None:
    first, second = item_event("i1", "a"), item_event("i1", "b")
    await service.events.handle([first, first])
    await service.events.handle([first, second])
    await service.events.handle([second])
    trail = await service.audit.item_trail("i1")
    assert [e.event_id for e in trail] == [first.event_id, second.event_id]
    assert service.entries_counted("ingest") == 2


async def test_recording_skips_events_already_in_the_log_without_a_claim(
    service: Service,
) -> None:
    """Events recorded before the dispatcher claimed ids have an entry but no claim."""
    first = item_event("i1")
    async with service.uow.begin() as tx:
        assert len(await service.audit.record(tx, [first])) == 1
    async with service.uow.begin() as tx:
        assert await service.audit.record(tx, [first, first]) == []
    await service.events.handle([first])
    assert len(await service.audit.item_trail("i1")) == 1


async def test_counting_recorded_entries_uses_the_producer(service: Service) -> None:
    async with service.uow.begin() as tx:
        entries = await service.audit.record(tx, [item_event("i1", producer="")])
    service.audit.count_recorded(entries)
    assert service.entries_counted("unknown") == 1


async def test_a_trail_is_in_chain_order_across_fetches(service: Service) -> None:
    events = [item_event("i1", str(n)) for n in range(5)]
    await service.events.handle(events[:2])
    await service.events.handle([item_event("other")])
    await service.events.handle(events[2:])
    trail = await service.audit.item_trail("i1")
    assert [e.event_id for e in trail] == [e.event_id for e in events]
    assert [e.sequence for e in trail] == list(range(5))


async def test_an_unknown_item_has_no_trail_and_nothing_to_verify(service: Service) -> None:
    with pytest.raises(NotFound):
        await service.audit.item_trail("nothing")
    with pytest.raises(NotFound):
        await service.audit.verify_item("nothing")


async def test_an_untouched_trail_verifies(service: Service) -> None:
    await service.events.handle([item_event("i1"), item_event("i1"), item_event("i1")])
    result = await service.audit.verify_item("i1")
    assert (result.intact, result.checked, result.first_bad_sequence) == (True, 3, None)
    assert service.verifications("intact") == 1


async def test_verification_detects_an_entry_changed_in_storage(service: Service) -> None:
    events = [item_event("i1", "a"), item_event("i1", "b"), item_event("i1", "c")]
    await service.events.handle(events)
    stored = service.state.table(ENTRIES)
    altered = Envelope()
    altered.CopyFrom(events[1])
    altered.producer = "someone else"
    forged = altered.SerializeToString(deterministic=True)
    stored[events[1].event_id] = replace(stored[events[1].event_id], envelope=forged)
    result = await service.audit.verify_item("i1")
    assert (result.intact, result.first_bad_sequence) == (False, 1)
    assert service.verifications("broken") == 1


async def test_a_failed_fetch_records_nothing(service: Service) -> None:
    completed = new_envelope(
        ItemCompleted(), producer="review", actor=user_actor("r"), project_id="p", item_id="i1"
    )

    class Failing(Exception):
        pass

    class FailingFetch(handlers.AuditFetch):
        async def finish(self, tx: Transaction) -> None:
            await super().finish(tx)
            raise Failing

    async def start(_: object) -> handlers.AuditFetch:
        return FailingFetch(service.audit)

    events = Dispatcher(handlers.TABLE, service.uow, SERVICE, start)
    with pytest.raises(Failing):
        await events.handle([completed])
    with pytest.raises(NotFound):
        await service.audit.item_trail("i1")
    await service.events.handle([completed])
    assert len(await service.audit.item_trail("i1")) == 1


T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def timed(
    item_id: str, seconds: float, actor: str = "alice", payload: Message | None = None
) -> Envelope:
    envelope = new_envelope(
        payload or ItemIngested(text="t"),
        producer="ingest",
        actor=user_actor(actor),
        project_id="p",
        item_id=item_id,
    )
    envelope.occurred_at.FromDatetime(T0 + timedelta(seconds=seconds))
    return envelope


async def every_page(service: Service, query: AuditQuery, size: int) -> list[list[str]]:
    pages, token = [], ""
    while True:
        page = await service.audit.page(query, size, token)
        pages.append([e.event_id for e in page.entries])
        if not page.next_token:
            return pages
        token = page.next_token


async def test_pages_cover_a_project_once_in_time_order(service: Service) -> None:
    # Out of order, some at the same millisecond, one burst and long gaps.
    seconds = [5, 1, 1, 1, 3, 200, 200.0001, 7, *[9 + n / 1000 for n in range(40)], 86_400]
    events = [timed(f"i{n % 7}", s) for n, s in enumerate(seconds)]
    await service.events.handle(events)
    expected = sorted(events, key=lambda e: (e.occurred_at.ToMilliseconds(), e.event_id))
    pages = await every_page(service, AuditQuery(project_id="p"), 5)
    assert [i for page in pages for i in page] == [e.event_id for e in expected]
    assert all(len(page) <= 5 for page in pages)


async def test_filters_by_actor_type_and_time(service: Service) -> None:
    submitted = AnnotationSubmitted(task_id="t")
    events = [
        timed("i1", 1, "alice"),
        timed("i1", 2, "bob", submitted),
        timed("i2", 3, "alice", submitted),
        timed("i2", 4, "alice", ItemCompleted()),
        timed("i3", 5, "bob"),
    ]
    await service.events.handle(events)
    ids = [e.event_id for e in events]

    async def found(**fields: object) -> list[str]:
        pages = await every_page(service, AuditQuery(project_id="p", **fields), 2)  # type: ignore[arg-type]
        return [i for page in pages for i in page]

    assert await found(actor="KIND_USER:bob") == [ids[1], ids[4]]
    types = ("labelmesh.v1.AnnotationSubmitted", "labelmesh.v1.ItemCompleted")
    assert await found(event_types=types) == ids[1:4]
    assert await found(actor="KIND_USER:alice", event_types=types[:1]) == [ids[2]]
    window = {"occurred_from": T0 + timedelta(seconds=2), "occurred_to": T0 + timedelta(seconds=4)}
    assert await found(**window) == ids[1:3]
    assert await found(actor="nobody") == []
    assert await every_page(service, AuditQuery(project_id="other"), 2) == [[]]


async def test_an_item_is_paged_in_chain_order(service: Service) -> None:
    events = [timed("i1", 10 - n) for n in range(5)] + [timed("i2", 1)]
    await service.events.handle(events)
    pages = await every_page(service, AuditQuery(item_id="i1"), 2)
    assert [i for page in pages for i in page] == [e.event_id for e in events[:5]]
    only_late = AuditQuery(item_id="i1", occurred_from=T0 + timedelta(seconds=8))
    pages = await every_page(service, only_late, 10)
    assert pages == [[e.event_id for e in events[:3]]]


async def test_bad_queries_name_their_field(service: Service) -> None:
    for query, token, field in (
        (AuditQuery(), "", "project_id"),
        (AuditQuery(project_id="p"), "garbage", "page_token"),
    ):
        with pytest.raises(InvalidField) as refused:
            await service.audit.page(query, 10, token)
        assert refused.value.field == field
    with pytest.raises(InvalidField) as too_big:
        page_size(1001)
    assert too_big.value.field == "page_size"
    assert (page_size(0), page_size(0, 1000), page_size(7)) == (100, 1000, 7)


async def test_streaming_yields_every_entry_a_page_at_a_time(service: Service) -> None:
    events = [timed(f"i{n}", n) for n in range(23)]
    await service.events.handle(events)
    batches = [b async for b in service.audit.stream(AuditQuery(project_id="p"), 10)]
    assert all(len(b) <= 10 for b in batches)
    assert [e.event_id for b in batches for e in b] == [e.event_id for e in events]


async def test_streaming_reads_windows_ahead_in_order_across_bursts(service: Service) -> None:
    burst = [timed(f"b{n}", 1 + n / 100) for n in range(60)]
    sparse = [timed(f"s{n}", 10 + n * 25) for n in range(40)]
    await service.events.handle(burst + sparse)
    stream = service.audit.stream(AuditQuery(project_id="p"), 2)
    read = [e.event_id for b in [b async for b in stream] for e in b]
    assert read == [e.event_id for e in burst + sparse]


async def test_closing_a_stream_early_cancels_the_windows_read_ahead(service: Service) -> None:
    await service.events.handle([timed(f"i{n}", n) for n in range(50)])
    repository = service.audit.repository
    read_first = repository.between
    never = asyncio.Event()

    async def only_the_first_window(
        scope: Scope, start: datetime, stop: datetime
    ) -> list[AuditEntry]:
        if start > T0:
            await never.wait()
        return await read_first(scope, start, stop)

    repository.between = only_the_first_window  # type: ignore[method-assign]
    stream = service.audit.stream(AuditQuery(project_id="p"), 2)
    first = await anext(stream)
    assert len(first) == 2
    await stream.aclose()
    await asyncio.sleep(0)
    reads = [t for t in asyncio.all_tasks() if t.get_coro().__qualname__ == "Audit._window"]
    assert reads == []


async def test_checkpoints_chain_and_are_written_only_for_new_entries(service: Service) -> None:
    await service.events.handle([timed("i1", 1), timed("i2", 2)])
    first = await service.audit.checkpoint(service.uow, "p")
    assert first is not None and (first.sequence, first.chains, first.entries) == (1, 2, 2)
    assert await service.audit.checkpoint(service.uow, "p") is None
    await service.events.handle([timed("i1", 3)])
    [second] = await service.audit.checkpoint_all(service.uow)
    assert (second.sequence, second.previous_hash, second.entries) == (2, first.hash, 3)
    assert await service.audit.checkpoint_all(service.uow) == []
    result = await service.audit.verify_project("p")
    assert result.intact and (result.chains, result.entries, result.checkpoints) == (2, 3, 2)
    entries = await service.repository.trail("i1")
    assert [e.epoch for e in entries] == [0, 1]


async def test_a_project_reaching_the_entry_count_asks_for_a_checkpoint(
    service: Service,
) -> None:
    asked = []
    service.audit.checkpoint_entries = 3
    service.audit.on_checkpoint_due = lambda: asked.append(True)
    await service.events.handle([timed("i1", n) for n in range(2)])
    assert asked == []
    await service.events.handle([timed("i1", 5)])
    assert asked == [True]


async def test_annotation_history_reads_the_items_chain(service: Service) -> None:
    label = Label(classification=Classification(label="cat"))
    await service.events.handle(
        [
            timed("i1", 1),
            timed("i1", 2, "ann", AnnotationSubmitted(task_id="t", labels=[label])),
        ]
    )
    [history] = await service.audit.annotation_history("i1")
    assert history.key == "task:t" and history.versions[0].entry.actor == "KIND_USER:ann"
    with pytest.raises(NotFound):
        await service.audit.annotation_history("nothing")
