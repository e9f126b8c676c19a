"""The audit repository contract, against the in-memory twin and SecantusDB."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.audit.adapters.repository import ENTRIES, MongoAuditRepository
from labelmesh.audit.domain import extend_chains, link_of, next_checkpoint, verify
from labelmesh.audit.ports import AuditRepository
from labelmesh.audit.records import AuditEntry, ChainHead, Scope
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.core.errors import Conflict
from labelmesh.core.mongo import Document
from labelmesh.testing.backends import Backend
from labelmesh.testing.memory import MemoryState
from labelmesh.testing.twins.audit import InMemoryAuditRepository
from labelmesh.v1.events_pb2 import Envelope, ItemIngested

AT = datetime(2026, 11, 30, 12, 0, 0, 123000, tzinfo=UTC)


async def repository_of(backend: Backend) -> AuditRepository:
    twin: Callable[[MemoryState], AuditRepository] = InMemoryAuditRepository
    mongo: Callable[[AsyncDatabase[Document]], AuditRepository] = MongoAuditRepository
    repository = backend.pick(twin, mongo)
    if isinstance(repository, MongoAuditRepository):
        await repository.ensure_indexes()
    return repository


def event(item_id: str, text: str = "t") -> Envelope:
    envelope = new_envelope(
        ItemIngested(text=text),
        producer="ingest",
        actor=user_actor("alice"),
        project_id="p",
        item_id=item_id,
    )
    envelope.occurred_at.FromDatetime(AT)
    return envelope


async def append(
    repository: AuditRepository, backend: Backend, *events: Envelope
) -> list[AuditEntry]:
    async with backend.uow.begin() as tx:
        heads = await repository.heads(tx, {e.item_id for e in events})
        entries = extend_chains(heads, events)
        await repository.append(tx, heads, entries)
    return entries


async def test_appended_entries_come_back_whole_in_sequence_order(backend: Backend) -> None:
    repository = await repository_of(backend)
    first = await append(repository, backend, event("i1", "a"), event("i2"), event("i1", "b"))
    later = await append(repository, backend, event("i1", "c"))
    trail = await repository.trail("i1")
    assert trail == [first[0], first[2], later[0]]
    assert [e.sequence for e in trail] == [0, 1, 2]
    assert trail[0].occurred_at == AT and trail[0].actor == "KIND_USER:alice"
    assert verify([link_of(e) for e in trail]).intact
    assert await repository.trail("i2") == [first[1]]
    assert await repository.trail("nothing") == []


async def test_heads_and_recorded_ids_follow_the_appends(backend: Backend) -> None:
    repository = await repository_of(backend)
    entries = await append(repository, backend, event("i1"), event("i1"))
    async with backend.uow.begin() as tx:
        assert await repository.heads(tx, {"i1", "i9"}) == {
            "i1": ChainHead("i1", 1, entries[1].hash)
        }
        assert await repository.recorded(tx, {entries[0].event_id, "other"}) == {
            entries[0].event_id
        }


async def test_an_event_recorded_twice_is_a_conflict(backend: Backend) -> None:
    repository = await repository_of(backend)
    [entry] = await append(repository, backend, event("i1"))
    again = replace(entry, chain="i2", sequence=0)
    with pytest.raises(Conflict):
        async with backend.uow.begin() as tx:
            await repository.append(tx, {}, [again])
    assert await repository.trail("i2") == []


async def test_appending_from_a_head_that_moved_is_a_conflict_and_writes_nothing(
    backend: Backend,
) -> None:
    repository = await repository_of(backend)
    async with backend.uow.begin() as tx:
        stale = await repository.heads(tx, {"i1"})
    await append(repository, backend, event("i1"))
    with pytest.raises(Conflict):
        async with backend.uow.begin() as tx:
            await repository.append(tx, stale, extend_chains(stale, [event("i1")]))
    assert len(await repository.trail("i1")) == 1


async def test_a_moved_head_with_a_fresh_sequence_is_a_conflict(backend: Backend) -> None:
    repository = await repository_of(backend)
    [first] = await append(repository, backend, event("i1"))
    stale = {"i1": ChainHead("i1", first.sequence, first.hash)}
    await append(repository, backend, event("i1"))
    with pytest.raises(Conflict):
        async with backend.uow.begin() as tx:
            await repository.append(tx, stale, extend_chains(stale, [event("i1")]))
    assert [e.sequence for e in await repository.trail("i1")] == [0, 1]


async def test_a_rolled_back_append_leaves_no_entry_and_no_head(backend: Backend) -> None:
    repository = await repository_of(backend)
    with pytest.raises(RuntimeError, match="after appending"):
        async with backend.uow.begin() as tx:
            await repository.append(tx, {}, extend_chains({}, [event("i1")]))
            raise RuntimeError("failed after appending")
    assert await repository.trail("i1") == []
    async with backend.uow.begin() as tx:
        assert await repository.heads(tx, {"i1"}) == {}


async def test_a_stored_entry_changed_behind_the_repository_fails_verification(
    backend: Backend,
) -> None:
    repository = await repository_of(backend)
    entries = await append(repository, backend, event("i1", "a"), event("i1", "b"))
    forged = extend_chains({}, [event("i1", "forged")])[0].envelope
    if backend.state is not None:
        table = backend.state.table(ENTRIES)
        table[entries[1].event_id] = replace(table[entries[1].event_id], envelope=forged)
    else:
        assert backend.db is not None
        await backend.db[ENTRIES].update_one(
            {"_id": entries[1].event_id}, {"$set": {"envelope": forged}}
        )
    result = verify([link_of(e) for e in await repository.trail("i1")])
    assert (result.intact, result.first_bad_sequence) == (False, 1)


def at(envelope: Envelope, seconds: float) -> Envelope:
    envelope.occurred_at.FromDatetime(AT + timedelta(seconds=seconds))
    return envelope


async def test_entries_are_found_by_scope_and_time_window_in_time_order(
    backend: Backend,
) -> None:
    repository = await repository_of(backend)
    entries = await append(
        repository,
        backend,
        at(event("i1"), 3),
        at(event("i2"), 1),
        at(event("i1"), 1),
        at(event("i3"), 9),
    )
    window = await repository.between(Scope("p"), AT, AT + timedelta(seconds=9))
    ties = sorted([entries[1], entries[2]], key=lambda e: e.event_id)
    assert [e.event_id for e in window] == [*[e.event_id for e in ties], entries[0].event_id]
    assert window[0].project_id == "p" and window[0].item_id in {"i1", "i2"}
    typed = Scope("p", event_type="labelmesh.v1.ItemIngested")
    assert len(await repository.between(typed, AT, AT + timedelta(seconds=10))) == 4
    both = Scope("p", "KIND_USER:alice", "labelmesh.v1.TaskCreated")
    assert await repository.between(both, AT, AT + timedelta(seconds=10)) == []
    assert await repository.between(Scope("q"), AT, AT + timedelta(seconds=10)) == []
    assert [e.sequence for e in await repository.chain_slice("i1", 1, 5)] == [1]


async def test_the_project_log_counts_entries_and_spans_their_times(backend: Backend) -> None:
    repository = await repository_of(backend)
    await append(repository, backend, at(event("i1"), 5), at(event("i2"), 2))
    await append(repository, backend, at(event("i1"), 7))
    log = await repository.project_log("p")
    assert log is not None
    assert (log.entries, log.checkpoints, log.checkpoint_hash) == (3, 0, "")
    assert (log.earliest, log.latest) == (AT + timedelta(seconds=2), AT + timedelta(seconds=7))
    assert await repository.dirty_projects() == ["p"]
    assert {h.chain for h in await repository.project_heads("p")} == {"i1", "i2"}
    assert await repository.project_chain_keys("p") == {"i1", "i2"}
    assert await repository.project_log("q") is None


async def test_a_checkpoint_moves_the_log_and_a_stale_one_is_a_conflict(
    backend: Backend,
) -> None:
    repository = await repository_of(backend)
    await append(repository, backend, event("i1"))
    log = await repository.project_log("p")
    assert log is not None
    checkpoint = next_checkpoint("p", 1, "", AT, [("i1", 0, "h")], 1)
    async with backend.uow.begin() as tx:
        await repository.add_checkpoint(tx, log, checkpoint)
    assert await repository.checkpoints("p") == [checkpoint]
    assert await repository.dirty_projects() == []
    moved = await repository.project_log("p")
    assert moved is not None and (moved.checkpoints, moved.checkpoint_hash) == (1, checkpoint.hash)
    with pytest.raises(Conflict):
        async with backend.uow.begin() as tx:
            await repository.add_checkpoint(tx, log, checkpoint)
    # Entries read before the checkpoint carry the old epoch: appending them conflicts.
    with pytest.raises(Conflict):
        await append(repository, backend, event("i2"))
    async with backend.uow.begin() as tx:
        heads = await repository.heads(tx, {"i2"})
        epochs = await repository.epochs(tx, {"p"})
        await repository.append(tx, heads, extend_chains(heads, [event("i2")], epochs))
    assert epochs == {"p": 1}
    assert [e.epoch for e in await repository.trail("i2")] == [1]
