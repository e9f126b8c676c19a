"""The audit log's hot queries stay answered by an index as it grows.

Each test runs the repository's own queries, records the find commands it
sends, and has SecantusDB explain them at 1,000 and at 20,000 documents: the
documents examined must not grow with the collection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.audit.adapters.repository import (
    ENTRIES,
    HEADS,
    PROJECTS,
    MongoAuditRepository,
    entry_document,
)
from labelmesh.audit.domain import Cursor, encode_cursor, extend_chains
from labelmesh.audit.metrics import AuditMetrics
from labelmesh.audit.records import AuditEntry, AuditQuery
from labelmesh.audit.usecases import Audit
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.core.mongo import Document, MongoUnitOfWork, ensure_core_indexes
from labelmesh.core.topics import Topics
from labelmesh.testing.hot_queries import LARGE, SMALL, Examined, SentCommands, examined, seed
from labelmesh.v1.events_pb2 import Envelope, ItemIngested, TaskCreated

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# Each seeded chain holds this many entries.
CHAIN_LENGTH = 4


@dataclass
class Audited:
    db: AsyncDatabase[Document]
    repository: MongoAuditRepository
    uow: MongoUnitOfWork
    commands: SentCommands


@pytest.fixture
async def audited(mongo_uri: str, unique_name: str) -> AsyncIterator[Audited]:
    commands = SentCommands()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        mongo_uri, tz_aware=True, event_listeners=[commands]
    )
    db = client[unique_name]
    await ensure_core_indexes(db)
    repository = MongoAuditRepository(db)
    await repository.ensure_indexes()
    try:
        yield Audited(db, repository, MongoUnitOfWork(client, db, Topics(unique_name)), commands)
    finally:
        await client.drop_database(unique_name)
        await client.close()


async def examined_by(audited: Audited, run: Callable[[], Awaitable[object]]) -> Examined:
    """What the server reads to answer every find that `run` sends, summed."""
    audited.commands.sent.clear()
    await run()
    finds = audited.commands.named("find")
    assert finds, "the query sent no find"
    total = Examined(0, 0)
    for find in finds:
        one = await examined(
            audited.db[find["find"]],
            find["filter"],
            sort=find.get("sort"),
            limit=find.get("limit", 0),
        )
        total = Examined(total.keys + one.keys, total.docs + one.docs)
    return total


def stored_entry(i: int) -> Document:
    chain = f"item-{i // CHAIN_LENGTH}"
    entry = AuditEntry(
        event_id=f"event-{i}",
        chain=chain,
        sequence=i % CHAIN_LENGTH,
        event_type="ItemIngested",
        producer="ingest",
        trace_id="trace",
        actor="KIND_USER:alice",
        occurred_at=AT,
        previous_hash="0" * 64,
        hash="1" * 64,
        envelope=b"recorded bytes",
    )
    return entry_document(entry)


def stored_head(i: int) -> Document:
    return {"_id": f"item-{i}", "sequence": CHAIN_LENGTH - 1, "hash": "1" * 64}


async def test_finding_chain_heads_reads_only_the_chains_asked_for(audited: Audited) -> None:
    asked = {"item-7", "item-700", "item-never-seen"}

    async def heads() -> Examined:
        async with audited.uow.begin() as tx:
            return await examined_by(audited, lambda: audited.repository.heads(tx, asked))

    await seed(audited.db[HEADS], stored_head, 0, SMALL)
    small = await heads()
    await seed(audited.db[HEADS], stored_head, SMALL, LARGE)
    large = await heads()
    assert small.docs <= len(asked)
    assert large.docs == small.docs


async def test_replay_checks_and_trails_read_only_their_own_entries(audited: Audited) -> None:
    replayed = {"event-5", "event-9", "event-never-seen"}

    async def recorded() -> Examined:
        async with audited.uow.begin() as tx:
            return await examined_by(audited, lambda: audited.repository.recorded(tx, replayed))

    async def trail() -> Examined:
        return await examined_by(audited, lambda: audited.repository.trail("item-3"))

    await seed(audited.db[ENTRIES], stored_entry, 0, SMALL)
    small = (await recorded(), await trail())
    await seed(audited.db[ENTRIES], stored_entry, SMALL, LARGE)
    large = (await recorded(), await trail())
    assert small[0].docs <= len(replayed) and small[1].docs == CHAIN_LENGTH
    assert [e.docs for e in large] == [e.docs for e in small]


async def test_appending_a_batch_writes_each_collection_in_bulk(audited: Audited) -> None:
    chains = [f"item-{k}" for k in range(300)]
    # First every chain starts (its head is inserted), then every head moves.
    for payload, head_write in ((ItemIngested(text="t"), "insert"), (TaskCreated(), "update")):
        batch = [
            new_envelope(payload, producer="x", actor=user_actor("a"), project_id="p", item_id=c)
            for c in chains
        ]
        async with audited.uow.begin() as tx:
            heads = await audited.repository.heads(tx, set(chains))
            entries = extend_chains(heads, batch)
            audited.commands.sent.clear()
            await audited.repository.append(tx, heads, entries)
        writes = [
            (kind, command[kind])
            for command in audited.commands.sent
            for kind in ("insert", "update")
            if kind in command
        ]
        assert writes == [("insert", ENTRIES), (head_write, HEADS), ("update", PROJECTS)]


# Query seeds: one entry a second, ten actors and five event types in turn.
ACTORS, TYPES = 10, 5
PAGE = 100


def timed_entry(i: int) -> Document:
    document = stored_entry(i)
    document |= {
        "project_id": "p",
        "item_id": document["chain"],
        "actor": f"KIND_USER:a{i % ACTORS}",
        "event_type": f"labelmesh.v1.Type{i % TYPES}",
        "occurred_at": AT + timedelta(seconds=i),
        "epoch": 0,
    }
    return document


async def seed_queried(audited: Audited, start: int, stop: int) -> None:
    await seed(audited.db[ENTRIES], timed_entry, start, stop)
    log = {
        "entries": stop,
        "checkpoints": 0,
        "earliest": AT,
        "latest": AT + timedelta(seconds=stop - 1),
    }
    await audited.db[PROJECTS].update_one({"_id": "p"}, {"$set": log}, upsert=True)


async def test_every_query_shape_reads_about_a_page_however_large_the_log(
    audited: Audited,
) -> None:
    audit = Audit(audited.repository, AuditMetrics(CollectorRegistry()))
    types = ("labelmesh.v1.Type1", "labelmesh.v1.Type3")
    shapes = {
        "project": (AuditQuery(project_id="p"), ""),
        "project+actor": (AuditQuery(project_id="p", actor="KIND_USER:a3"), ""),
        "project+event_type": (AuditQuery(project_id="p", event_types=types[:1]), ""),
        "project+event_types": (AuditQuery(project_id="p", event_types=types), ""),
        "project+actor+event_type": (
            AuditQuery(project_id="p", actor="KIND_USER:a3", event_types=("labelmesh.v1.Type3",)),
            "",
        ),
        "project+time range": (
            AuditQuery(
                project_id="p",
                occurred_from=AT + timedelta(seconds=500),
                occurred_to=AT + timedelta(seconds=900),
            ),
            "",
        ),
        "deep cursor": (
            AuditQuery(project_id="p"),
            encode_cursor(Cursor(AT + timedelta(seconds=900), "event-900", timedelta(seconds=90))),
        ),
        "item": (AuditQuery(item_id="item-42"), ""),
    }

    async def measure() -> dict[str, tuple[int, Examined]]:
        measured = {}
        for name, (query, token) in shapes.items():
            found: list[int] = []

            async def run(
                query: AuditQuery = query, token: str = token, found: list[int] = found
            ) -> None:
                found.append(len((await audit.page(query, PAGE, token)).entries))

            read = await examined_by(audited, run)
            measured[name] = (found[0], read)
        return measured

    await seed_queried(audited, 0, SMALL)
    small = await measure()
    await seed_queried(audited, SMALL, LARGE)
    large = await measure()
    for name in shapes:
        (small_found, small_read), (large_found, large_read) = small[name], large[name]
        assert large_found > 0, name
        # A page reads its windows' documents: a few pages' worth, at any size.
        assert large_read.docs <= 6 * PAGE, (name, large_read)
        assert large_read.keys <= 6 * PAGE, (name, large_read)
        assert small_found <= PAGE and small_read.docs <= 6 * PAGE, (name, small_read)


async def test_a_page_reads_about_a_page_when_a_dense_burst_sits_in_a_long_quiet_log(
    audited: Audited,
) -> None:
    """A project created long ago, a burst of 3,000 entries in 30 s, and one entry
    now: the log's average density says a window of days, and the first page's
    window must come from the burst's rate instead."""

    def at(moment: datetime, count: int, step: timedelta) -> list[Envelope]:
        batch = [
            new_envelope(
                ItemIngested(text="t"),
                producer="x",
                actor=user_actor("a"),
                project_id="b",
                item_id=f"item-{moment.timestamp()}-{n}",
            )
            for n in range(count)
        ]
        for n, envelope in enumerate(batch):
            envelope.occurred_at.FromDatetime(moment + n * step)
        return batch

    burst = AT - timedelta(days=30)
    for batch in (
        at(AT - timedelta(days=300), 1, timedelta(0)),
        *(at(burst + timedelta(seconds=s), 1000, timedelta(milliseconds=10)) for s in (0, 10, 20)),
        at(AT, 1, timedelta(0)),
    ):
        async with audited.uow.begin() as tx:
            await audited.repository.append(tx, {}, extend_chains({}, batch))
    log = await audited.repository.project_log("b")
    assert log is not None and log.peak_rate == pytest.approx(1000 / 9.99)

    audit = Audit(audited.repository, AuditMetrics(CollectorRegistry()))
    for query in (
        AuditQuery(project_id="b", occurred_from=burst),
        AuditQuery(project_id="b", occurred_from=burst + timedelta(seconds=15)),
    ):
        found: list[int] = []

        async def run(query: AuditQuery = query, found: list[int] = found) -> None:
            found.append(len((await audit.page(query, PAGE)).entries))

        read = await examined_by(audited, run)
        assert found == [PAGE] and read.docs <= 6 * PAGE, (query, read)
