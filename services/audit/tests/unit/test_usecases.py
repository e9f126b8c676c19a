"""The audit use cases and its event table, on the in-memory twins."""

from __future__ import annotations

from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry

from labelmesh.audit import handlers
from labelmesh.audit.metrics import AuditMetrics
from labelmesh.audit.usecases import SERVICE, Audit
from labelmesh.core.dispatch import Dispatcher
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.core.errors import NotFound
from labelmesh.core.topics import FAMILIES, FAMILY_OF_EVENT
from labelmesh.core.uow import Transaction
from labelmesh.testing.memory import InMemoryUnitOfWork, MemoryState
from labelmesh.testing.twins.audit import ENTRIES, InMemoryAuditRepository
from labelmesh.v1.events_pb2 import (
    Envelope,
    ItemCompleted,
    ItemIngested,
    ProjectCreated,
    ProjectSpec,
)


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
