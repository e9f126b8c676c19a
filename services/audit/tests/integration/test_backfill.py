"""Entries stored before they carried project, item and epoch: read whole, and
backfilled at start so that queries and checkpoints find them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.audit.adapters.repository import ENTRIES, PROJECTS, MongoAuditRepository
from labelmesh.audit.domain import extend_chains
from labelmesh.audit.metrics import AuditMetrics
from labelmesh.audit.records import AuditQuery
from labelmesh.audit.usecases import Audit
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.core.mongo import Document, connect
from labelmesh.v1.events_pb2 import ItemIngested

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
async def db(mongo_uri: str, unique_name: str) -> AsyncIterator[AsyncDatabase[Document]]:
    client = connect(mongo_uri)
    try:
        yield client[unique_name]
    finally:
        await client.drop_database(unique_name)
        await client.close()


async def store_legacy(db: AsyncDatabase[Document], count: int) -> list[str]:
    """Entries and heads as the audit service stored them before this release."""
    events = []
    for n in range(count):
        envelope = new_envelope(
            ItemIngested(text=str(n)),
            producer="ingest",
            actor=user_actor("alice"),
            project_id="old",
            item_id=f"i{n % 2}",
        )
        envelope.occurred_at.FromDatetime(AT.replace(second=n))
        events.append(envelope)
    entries = extend_chains({}, events)
    legacy = ("project_id", "item_id", "epoch")
    documents = [
        {"_id": e.event_id, **{k: v for k, v in vars(e).items() if k not in (*legacy, "event_id")}}
        for e in entries
    ]
    await db[ENTRIES].insert_many(documents)
    last = {e.chain: e for e in entries}
    await db["chain_heads"].insert_many(
        [{"_id": c, "sequence": e.sequence, "hash": e.hash} for c, e in last.items()]
    )
    return [e.event_id for e in entries]


async def test_legacy_entries_are_read_whole_and_backfilled_once(
    db: AsyncDatabase[Document],
) -> None:
    ids = await store_legacy(db, 5)
    repository = MongoAuditRepository(db)
    await repository.ensure_indexes()
    [first, *_] = await repository.trail("i0")
    assert (first.project_id, first.item_id, first.epoch) == ("old", "i0", 0)

    await repository.prepare()
    assert await repository.backfill() == 0
    log = await db[PROJECTS].find_one({"_id": "old"})
    assert log is not None and (log["entries"], log["checkpoints"]) == (5, 0)
    audit = Audit(repository, AuditMetrics(CollectorRegistry()))
    page = await audit.page(AuditQuery(project_id="old"), 10)
    assert [e.event_id for e in page.entries] == ids
    assert (await audit.verify_project("old")).intact
