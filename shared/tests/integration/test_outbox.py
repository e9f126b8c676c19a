"""The outbox against the real database and broker: what commits is published
once, what aborts leaves nothing behind."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from labelmesh.core.bus import ensure_topics
from labelmesh.core.config import CoreSettings
from labelmesh.core.envelopes import decode, new_envelope, user_actor
from labelmesh.core.mongo import OUTBOX, ensure_core_indexes
from labelmesh.core.platform import Platform
from labelmesh.core.topics import ITEMS
from labelmesh.testing.kafka import read_topic
from labelmesh.testing.services import eventually
from labelmesh.v1.events_pb2 import ItemIngested

pytestmark = pytest.mark.integration


async def test_committed_events_are_published_and_aborted_ones_never_exist(
    core_settings: CoreSettings,
) -> None:
    platform = Platform("outboxtest", core_settings)
    await ensure_topics(core_settings.kafka_bootstrap_servers, platform.topics.all(), 3)
    await ensure_core_indexes(platform.db)
    await platform.publisher.start()
    relay = asyncio.create_task(platform.relay.run())
    kept = new_envelope(
        ItemIngested(text="kept"), producer="t", actor=user_actor("a"), project_id="p", item_id="i1"
    )
    lost = new_envelope(
        ItemIngested(text="lost"), producer="t", actor=user_actor("a"), project_id="p", item_id="i2"
    )
    try:
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
        assert await platform.db[OUTBOX].distinct("event_id") == [kept.event_id]
    finally:
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay
        await platform.publisher.stop()
        await platform.close()
    assert [decode(r.value).event_id for r in records] == [kept.event_id]
    assert records[0].key == b"i1"
    assert platform.metrics.outbox_pending._value.get() == 0
