"""Events per second through the bus: batched produce, then group consume."""

from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry

from labelmesh.core.bus import EventPublisher, ensure_topics
from labelmesh.core.envelopes import decode, new_envelope, user_actor
from labelmesh.core.metrics import BusMetrics
from labelmesh.core.topics import ITEMS, Topics
from labelmesh.v1.events_pb2 import ItemIngested

CHUNK = 2_000


async def bench_bus(bootstrap: str, count: int) -> float:
    topics = Topics("bench")
    await ensure_topics(bootstrap, topics.all(), 3)
    envelopes = [
        new_envelope(
            ItemIngested(text=f"item number {i} with a sentence of text", media_key=f"k/{i}"),
            producer="bench",
            actor=user_actor("bench"),
            project_id="bench",
            item_id=f"item-{i}",
        )
        for i in range(count)
    ]
    publisher = EventPublisher(bootstrap, topics, BusMetrics("bench", CollectorRegistry()))
    consumer = AIOKafkaConsumer(
        topics.name(ITEMS),
        bootstrap_servers=bootstrap,
        group_id="bench",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=2_000,
    )
    await publisher.start()
    await consumer.start()
    print(f"bus: producing and consuming {count:,} envelopes ...", flush=True)
    started = time.perf_counter()
    for offset in range(0, count, CHUNK):
        await publisher.publish(envelopes[offset : offset + CHUNK])
    consumed = 0
    while consumed < count:
        batch = await consumer.getmany(timeout_ms=1_000, max_records=2_000)
        for records in batch.values():
            for record in records:
                decode(record.value)
            consumed += len(records)
        if batch:
            await consumer.commit()
    elapsed = time.perf_counter() - started
    await consumer.stop()
    await publisher.stop()
    return count / elapsed
