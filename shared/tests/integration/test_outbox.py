"""The outbox against the real database and broker: what commits is published
once, in order, what aborts leaves nothing behind, and one transaction's events
travel as one outbox document."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from bson import ObjectId

from labelmesh.core.bus import ensure_topics
from labelmesh.core.config import CoreSettings
from labelmesh.core.envelopes import decode, encode, headers_for, new_envelope, user_actor
from labelmesh.core.mongo import LEGACY_OUTBOX_INDEX, OUTBOX, ensure_core_indexes
from labelmesh.core.outbox import stored_events
from labelmesh.core.platform import Platform
from labelmesh.core.topics import ITEMS
from labelmesh.testing.kafka import read_topic
from labelmesh.testing.services import eventually
from labelmesh.v1.events_pb2 import Envelope, ItemIngested

pytestmark = pytest.mark.integration


def ingested(item_id: str, text: str = "") -> Envelope:
    return new_envelope(
        ItemIngested(text=text or item_id),
        producer="t",
        actor=user_actor("a"),
        project_id="p",
        item_id=item_id,
    )


@pytest.fixture
async def platform(core_settings: CoreSettings) -> AsyncIterator[Platform]:
    platform = Platform("outboxtest", core_settings)
    await ensure_topics(core_settings.kafka_bootstrap_servers, platform.topics.all(), 3)
    await ensure_core_indexes(platform.db)
    await platform.publisher.start()
    yield platform
    await platform.publisher.stop()
    await platform.close()


@contextlib.asynccontextmanager
async def relaying(platform: Platform) -> AsyncIterator[None]:
    relay = asyncio.create_task(platform.relay.run())
    try:
        yield
    finally:
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay


async def all_published(platform: Platform) -> bool:
    return await platform.db[OUTBOX].count_documents({"published": False}) == 0


async def test_committed_events_are_published_and_aborted_ones_never_exist(
    platform: Platform, core_settings: CoreSettings
) -> None:
    kept, lost = ingested("i1", "kept"), ingested("i2", "lost")
    async with relaying(platform):
        async with platform.uow.begin() as tx:
            await platform.db["state"].insert_one({"_id": "kept"}, session=tx.session)
            tx.emit(kept)
        with pytest.raises(RuntimeError):
            async with platform.uow.begin() as tx:
                await platform.db["state"].insert_one({"_id": "lost"}, session=tx.session)
                tx.emit(lost)
                raise RuntimeError("handler failed after writing")

        async def published() -> bool:
            return await platform.db[OUTBOX].count_documents({"published": True}) == 1

        await eventually(published, what="the relay to publish the committed event")
        records = await read_topic(
            core_settings.kafka_bootstrap_servers, platform.topics.name(ITEMS), 2, within=3
        )
    assert await platform.db["state"].distinct("_id") == ["kept"]
    assert [e.event_id for e in await stored_events(platform.db)] == [kept.event_id]
    assert [decode(r.value).event_id for r in records] == [kept.event_id]
    assert records[0].key == b"i1"
    assert platform.metrics.outbox_pending._value.get() == 0


async def test_one_transaction_is_one_document_published_whole_and_in_order(
    platform: Platform, core_settings: CoreSettings
) -> None:
    # Every event on one key: one partition, so the topic's order is the send order.
    events = [ingested("same-item", f"text {i}") for i in range(50)]
    async with platform.uow.begin() as tx:
        tx.emit(*events)
    [document] = await platform.db[OUTBOX].find().to_list(None)
    assert document["count"] == 50
    assert [e.event_id for e in await stored_events(platform.db)] == [e.event_id for e in events]

    async with relaying(platform):
        await eventually(lambda: all_published(platform), what="the relay to mark the document")
        records = await read_topic(
            core_settings.kafka_bootstrap_servers, platform.topics.name(ITEMS), 50
        )
    assert [decode(r.value).event_id for r in records] == [e.event_id for e in events]
    headers = dict(records[7].headers)
    assert headers["ce_id"] == events[7].event_id.encode()
    assert headers["traceparent"].split(b"-")[1] == events[7].trace_id.encode()
    [marked] = await platform.db[OUTBOX].find().to_list(None)
    assert marked["published"] is True and "published_at" in marked
    assert platform.metrics.produced.labels("labelmesh.v1.ItemIngested")._value.get() == 50


async def test_the_relay_takes_the_oldest_documents_first_and_counts_pending_events(
    platform: Platform,
) -> None:
    platform.relay.batch_size = 5
    for first in range(0, 12, 4):
        async with platform.uow.begin() as tx:
            tx.emit(*(ingested(f"i{n}") for n in range(first, first + 4)))

    assert await platform.relay.publish_pending() == 4  # a second document would pass 5
    assert platform.metrics.outbox_pending._value.get() == 8
    assert await platform.relay.publish_pending() == 4
    assert platform.metrics.outbox_pending._value.get() == 4
    assert await platform.relay.publish_pending() == 4
    assert await platform.relay.publish_pending() == 0
    assert platform.metrics.outbox_pending._value.get() == 0
    published = await platform.db[OUTBOX].find().sort("_id", 1).to_list(None)
    assert [d["published"] for d in published] == [True, True, True]


async def test_events_written_in_the_old_one_event_shape_are_still_published(
    platform: Platform, core_settings: CoreSettings
) -> None:
    outbox = platform.db[OUTBOX]
    await outbox.create_index("event_id", unique=True)
    old = ingested("old-item")
    await outbox.insert_one(
        {
            "_id": ObjectId(),
            "event_id": old.event_id,
            "event_type": old.event_type,
            "topic": platform.topics.name(ITEMS),
            "key": old.item_id,
            "value": encode(old),
            "headers": [[name, value] for name, value in headers_for(old)],
            "published": False,
        }
    )
    await ensure_core_indexes(platform.db)
    assert LEGACY_OUTBOX_INDEX not in await outbox.index_information()
    async with platform.uow.begin() as tx:
        tx.emit(ingested("new-item"))
    async with platform.uow.begin() as tx:
        tx.emit(ingested("newer-item"))

    async with relaying(platform):
        await eventually(lambda: all_published(platform), what="the relay to publish both shapes")
        records = await read_topic(
            core_settings.kafka_bootstrap_servers, platform.topics.name(ITEMS), 3
        )
    assert sorted(r.key for r in records) == [b"new-item", b"newer-item", b"old-item"]


async def test_an_event_without_a_topic_fails_its_transaction(platform: Platform) -> None:
    stray = Envelope(event_id="e1", event_type="labelmesh.v1.NoSuchEvent")
    with pytest.raises(ValueError, match="has no topic family"):
        async with platform.uow.begin() as tx:
            await platform.db["state"].insert_one({"_id": "lost"}, session=tx.session)
            tx.emit(ingested("i1"), stray)
    assert await platform.db[OUTBOX].count_documents({}) == 0
    assert await platform.db["state"].count_documents({}) == 0
