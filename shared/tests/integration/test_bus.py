"""The consumer loop against a real Kafka-protocol broker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

import pytest
from prometheus_client import CollectorRegistry

from labelmesh.core.bus import EventConsumer, EventPublisher, RawEvent, ensure_topics
from labelmesh.core.capacity import Capacity
from labelmesh.core.config import CoreSettings
from labelmesh.core.envelopes import (
    decode,
    encode,
    headers_for,
    new_envelope,
    payload_of,
    user_actor,
)
from labelmesh.core.errors import PoisonMessage
from labelmesh.core.metrics import BusMetrics
from labelmesh.core.topics import ITEMS, Topics
from labelmesh.testing.kafka import read_topic
from labelmesh.v1.events_pb2 import Envelope, ItemIngested

pytestmark = pytest.mark.integration
ITEM_INGESTED = "labelmesh.v1.ItemIngested"


def item_event(text: str, item_id: str = "item-1") -> Envelope:
    return new_envelope(
        ItemIngested(text=text),
        producer="test",
        actor=user_actor("t"),
        project_id="p",
        item_id=item_id,
    )


class Recorder:
    """A dispatcher that records what it saw, all or nothing per fetch,
    failing on some texts."""

    def __init__(self, fail_on: str = "", poison_on: str = "") -> None:
        self.seen: list[str] = []
        self.fail_on = fail_on
        self.poison_on = poison_on
        self.done = asyncio.Event()
        self.expect = 1

        self.fetches: list[list[str]] = []

    def handles(self, event_type: str) -> bool:
        return event_type == ITEM_INGESTED

    async def handle(self, envelopes: Sequence[Envelope]) -> None:
        texts = [payload_of(e).text for e in envelopes]  # type: ignore[attr-defined]
        self.fetches.append(texts)
        if self.fail_on in texts:
            raise RuntimeError("handler exploded")
        if self.poison_on in texts:
            raise PoisonMessage("cannot ever handle this")
        self.seen.extend(texts)
        if len(self.seen) >= self.expect:
            self.done.set()


@contextlib.asynccontextmanager
async def running_consumer(
    settings: CoreSettings,
    recorder: Recorder,
    capacity: Capacity | None = None,
) -> AsyncIterator[tuple[EventPublisher, BusMetrics]]:
    topics = Topics(settings.topic_prefix)
    await ensure_topics(settings.kafka_bootstrap_servers, topics.all(), 3)
    metrics = BusMetrics("test", CollectorRegistry())
    publisher = EventPublisher(settings.kafka_bootstrap_servers, topics, metrics)
    await publisher.start()
    consumer = EventConsumer(
        bootstrap=settings.kafka_bootstrap_servers,
        group_id=f"{settings.topic_prefix}.test",
        topics=[topics.name(ITEMS)],
        dispatcher=recorder,
        publisher=publisher,
        metrics=metrics,
        max_attempts=settings.handler_max_attempts,
        backoff_seconds=settings.handler_retry_backoff_seconds,
        capacity=capacity,
    )
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    try:
        yield publisher, metrics
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()
        await publisher.stop()


async def test_the_consumer_fetches_nothing_while_its_workers_are_full(
    core_settings: CoreSettings,
) -> None:
    recorder = Recorder()
    capacity = Capacity(2)
    group = f"{core_settings.topic_prefix}.test"
    busy_workers = contextlib.AsyncExitStack()
    await busy_workers.enter_async_context(capacity.hold(2))
    async with running_consumer(core_settings, recorder, capacity=capacity) as (publisher, metrics):
        await publisher.publish([item_event("queued")])
        await asyncio.sleep(1.5)
        assert recorder.seen == []
        assert metrics.consumer_paused.labels(group)._value.get() == 1
        await busy_workers.aclose()
        await asyncio.wait_for(recorder.done.wait(), 20)
        assert metrics.consumer_paused.labels(group)._value.get() == 0
    assert recorder.seen == ["queued"]


async def test_undecodable_message_is_dead_lettered_and_the_next_one_still_handled(
    core_settings: CoreSettings,
) -> None:
    recorder = Recorder()
    topics = Topics(core_settings.topic_prefix)
    async with running_consumer(core_settings, recorder) as (publisher, metrics):
        garbage = RawEvent(topics.name(ITEMS), b"item-1", b"\x08\x96\x01garbage", [], "raw")
        await publisher.send_raw([garbage])
        await publisher.publish([item_event("good")])
        await asyncio.wait_for(recorder.done.wait(), 20)
        dead = await read_topic(core_settings.kafka_bootstrap_servers, topics.dead_letter, 1)
    assert recorder.seen == ["good"]
    assert len(dead) == 1
    headers = dict(dead[0].headers)
    assert dead[0].value == b"\x08\x96\x01garbage"
    assert headers["dlq_reason_kind"] == b"undecodable"
    assert b"not a protobuf Envelope" in headers["dlq_reason"]
    assert headers["dlq_original_topic"] == topics.name(ITEMS).encode()
    assert metrics.dead_letters.labels("undecodable")._value.get() == 1


async def test_failing_handler_is_retried_then_dead_lettered_without_blocking(
    core_settings: CoreSettings,
) -> None:
    recorder = Recorder(fail_on="boom", poison_on="poison")
    recorder.expect = 1
    topics = Topics(core_settings.topic_prefix)
    async with running_consumer(core_settings, recorder) as (publisher, metrics):
        boom, poison = item_event("boom"), item_event("poison")
        await publisher.publish([boom, poison, item_event("after")])
        await asyncio.wait_for(recorder.done.wait(), 20)
        dead = await read_topic(core_settings.kafka_bootstrap_servers, topics.dead_letter, 2)
    assert recorder.seen == ["after"]
    reasons = {decode(r.value).event_id: dict(r.headers) for r in dead}
    assert reasons[boom.event_id]["dlq_reason_kind"] == b"handler_failed"
    assert (
        b"failed after 3 attempts: RuntimeError: handler exploded"
        in (reasons[boom.event_id]["dlq_reason"])
    )
    assert reasons[poison.event_id]["dlq_reason_kind"] == b"rejected"
    assert metrics.handler_retries.labels(ITEM_INGESTED)._value.get() == 2


async def test_records_are_committed_only_after_handling(core_settings: CoreSettings) -> None:
    """A consumer that restarts in the same group resumes after what was handled."""
    first = Recorder()
    async with running_consumer(core_settings, first) as (publisher, _):
        await publisher.publish([item_event("one")])
        await asyncio.wait_for(first.done.wait(), 20)
    second = Recorder()
    async with running_consumer(core_settings, second) as (publisher, _):
        await publisher.publish([item_event("two")])
        await asyncio.wait_for(second.done.wait(), 20)
    assert first.seen == ["one"]
    assert second.seen == ["two"]


async def test_publisher_sends_headers_and_keys_by_item(core_settings: CoreSettings) -> None:
    topics = Topics(core_settings.topic_prefix)
    await ensure_topics(core_settings.kafka_bootstrap_servers, topics.all(), 3)
    metrics = BusMetrics("test", CollectorRegistry())
    publisher = EventPublisher(core_settings.kafka_bootstrap_servers, topics, metrics)
    await publisher.start()
    events = [item_event(str(i), item_id=f"item-{i % 3}") for i in range(30)]
    await publisher.publish(events)
    await publisher.stop()
    records = await read_topic(core_settings.kafka_bootstrap_servers, topics.name(ITEMS), 30)
    assert sorted(decode(r.value).event_id for r in records) == sorted(e.event_id for e in events)
    partitions_of_key: dict[bytes, set[int]] = {}
    for record in records:
        partitions_of_key.setdefault(record.key, set()).add(record.partition)
        assert dict(record.headers)["ce_id"] == decode(record.value).event_id.encode()
    assert all(len(p) == 1 for p in partitions_of_key.values())
    assert encode(events[0]) == encode(decode(encode(events[0])))
    assert headers_for(events[0])[1][0] == "ce_type"
    assert metrics.produced.labels(ITEM_INGESTED)._value.get() == 30


async def test_a_failing_fetch_falls_back_to_one_event_at_a_time(
    core_settings: CoreSettings,
) -> None:
    """A fetch the dispatcher cannot take loses nothing: each event is then
    handled alone, and only the bad one is dead-lettered."""
    recorder = Recorder(fail_on="boom")
    recorder.expect = 2
    batches = recorder.fetches

    topics = Topics(core_settings.topic_prefix)
    async with running_consumer(core_settings, recorder) as (publisher, _):
        await publisher.publish(
            [item_event("a", "i1"), item_event("boom", "i2"), item_event("b", "i3")]
        )
        await asyncio.wait_for(recorder.done.wait(), 20)
        dead = await read_topic(core_settings.kafka_bootstrap_servers, topics.dead_letter, 1)
    assert sorted(recorder.seen) == ["a", "b"]
    assert any("boom" in batch for batch in batches)
    assert [decode(r.value).item_id for r in dead] == ["i2"]
