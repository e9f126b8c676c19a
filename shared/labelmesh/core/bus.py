"""The event bus on aiokafka: a batching publisher and the one consumer loop.

The consumer decodes each record and hands the whole fetch, in key order, to
the service's dispatcher (one transaction). If the fetch fails it falls back to
one event at a time: keys in parallel, each key's records in order, with
retries and backoff; what still cannot be handled is dead-lettered. A
partition's offsets are committed only after every record before them is
durable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, TopicAlreadyExistsError

from labelmesh.core.capacity import Capacity
from labelmesh.core.envelopes import UndecodableEvent, decode, encode, headers_for
from labelmesh.core.errors import PoisonMessage
from labelmesh.core.logging import log_context
from labelmesh.core.metrics import BusMetrics
from labelmesh.core.mongo import is_transient
from labelmesh.core.topics import Topics
from labelmesh.v1.events_pb2 import Envelope

log = logging.getLogger(__name__)

# How long the broker may hold a fetch that finds nothing new. Tansu holds every
# fetch for a good part of this wait even once records arrived (measured: 500 ms
# gave about 200 ms per hop, 20 ms about 10 ms), so it adds straight to the
# latency of every event; a short wait costs only some empty fetches.
FETCH_MAX_WAIT_MS = 20


class FetchHandler(Protocol):
    """What the consumer hands fetches to (`labelmesh.core.dispatch.Dispatcher`)."""

    def handles(self, event_type: str) -> bool: ...

    async def handle(self, envelopes: Sequence[Envelope]) -> None: ...


@dataclass(frozen=True)
class RawEvent:
    """An encoded event ready to send."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    event_type: str


async def ensure_topics(bootstrap: str, names: Iterable[str], partitions: int) -> None:
    """Create the topics that do not exist yet; a concurrent creator is harmless."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in missing]
                )
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


class EventPublisher:
    """Sends events in batches: every send is queued before any is awaited."""

    def __init__(self, bootstrap: str, topics: Topics, metrics: BusMetrics) -> None:
        # Tansu rejects InitProducerId, so the idempotent producer stays off;
        # consumers drop duplicates by event id instead. No linger: `send_raw`
        # queues a whole batch before it awaits any, so batches form without one,
        # and a linger would only delay every event (measured: about 7 ms a hop).
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=False,
            linger_ms=0,
            max_batch_size=256 * 1024,
        )
        self.topics = topics
        self.metrics = metrics

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, envelopes: Sequence[Envelope]) -> None:
        """Publish envelopes directly, keyed by item id (for the relay and tools)."""
        await self.send_raw(
            [
                RawEvent(
                    topic=self.topics.for_event(e.event_type),
                    key=(e.item_id or e.project_id).encode(),
                    value=encode(e),
                    headers=headers_for(e),
                    event_type=e.event_type,
                )
                for e in envelopes
            ]
        )

    async def send_raw(self, events: Sequence[RawEvent]) -> None:
        deliveries = [
            await self._producer.send(e.topic, value=e.value, key=e.key, headers=e.headers)
            for e in events
        ]
        await asyncio.gather(*deliveries)
        for e in events:
            self.metrics.produced.labels(e.event_type).inc()


class EventConsumer:
    """The consumer loop of one service: one consumer group over its topics."""

    def __init__(
        self,
        *,
        bootstrap: str,
        group_id: str,
        topics: Sequence[str],
        dispatcher: FetchHandler,
        publisher: EventPublisher,
        metrics: BusMetrics,
        max_attempts: int,
        backoff_seconds: float,
        max_concurrency: int = 64,
        capacity: Capacity | None = None,
    ) -> None:
        self._consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=500,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            session_timeout_ms=6000,
            heartbeat_interval_ms=500,
        )
        self.group_id = group_id
        self.dispatcher = dispatcher
        self.publisher = publisher
        self.metrics = metrics
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self._slots = asyncio.Semaphore(max_concurrency)
        self.capacity = capacity
        self._positions: dict[TopicPartition, int] = {}
        self.started = False

    async def start(self) -> None:
        await self._consumer.start()
        self.started = True

    async def stop(self) -> None:
        self.started = False
        await self._consumer.stop()

    async def run(self) -> None:
        while True:
            await self._wait_for_capacity()
            batch = await self._consumer.getmany(timeout_ms=500, max_records=500)
            if not batch:
                self._record_lag()
                continue
            await self.process_batch(batch)
            offsets = {tp: records[-1].offset + 1 for tp, records in batch.items()}
            self._positions.update(offsets)
            # Committed before the next fetch, so that a rebalance hands the next
            # owner as few handled events as possible to drop as replays.
            try:
                await self._consumer.commit(offsets)
            except CommitFailedError:
                # A rebalance moved the partitions; their new owner re-reads
                # from the last commit and the handlers drop the replays.
                log.warning("offset commit failed after a rebalance", extra={"fields": offsets})
            self._record_lag()

    async def _wait_for_capacity(self) -> None:
        """Backpressure: while the workers are full, pause every partition.

        Paused partitions stay assigned and heartbeats continue, so the group
        does not rebalance; fetching resumes where it stopped.
        """
        if self.capacity is None or not self.capacity.full:
            return
        partitions = self._consumer.assignment()
        self._consumer.pause(*partitions)
        self.metrics.consumer_paused.labels(self.group_id).set(1)
        try:
            await self.capacity.wait_for_room()
        finally:
            self._consumer.resume(*partitions)
            self.metrics.consumer_paused.labels(self.group_id).set(0)

    @property
    def paused(self) -> bool:
        return bool(self._consumer.paused())

    async def process_batch(self, batch: Mapping[TopicPartition, list[ConsumerRecord]]) -> None:
        """Handle one fetch: keys in parallel, each key's records in order."""
        by_key: dict[bytes | None, list[ConsumerRecord]] = defaultdict(list)
        for records in batch.values():
            for record in records:
                by_key[record.key].append(record)
        # One item's events may arrive on several topics in one fetch: handle
        # them in the order they were produced (a stable sort keeps each
        # partition's own order on equal timestamps).
        for records in by_key.values():
            records.sort(key=lambda r: r.timestamp)
        if await self._try_whole_fetch(by_key.values()):
            return
        await asyncio.gather(*(self._process_in_order(rs) for rs in by_key.values()))

    async def _try_whole_fetch(self, groups: Iterable[list[ConsumerRecord]]) -> bool:
        """Hand the whole fetch to the dispatcher; False if it must go event by event."""
        envelopes = []
        for record in (r for group in groups for r in group):
            try:
                envelope = decode(record.value)
            except UndecodableEvent:
                return False  # the per-event path dead-letters it
            if self.dispatcher.handles(envelope.event_type):
                envelopes.append(envelope)
            else:
                self.metrics.consumed.labels(envelope.event_type, "ignored").inc()
        if not envelopes:
            return True
        started = time.perf_counter()
        for attempt in range(1, self.max_attempts + 1):
            try:
                await self.dispatcher.handle(envelopes)
                break
            except Exception as exc:
                if attempt < self.max_attempts and is_transient(exc):
                    await asyncio.sleep(self.backoff_seconds * 2 ** (attempt - 1))
                    continue
                log.warning("batch of %d failed (%r); handling one by one", len(envelopes), exc)
                return False
        elapsed = time.perf_counter() - started
        for envelope in envelopes:
            self.metrics.handler_seconds.labels(envelope.event_type).observe(elapsed)
            self.metrics.consumed.labels(envelope.event_type, "ok").inc()
        return True

    async def _process_in_order(self, records: list[ConsumerRecord]) -> None:
        async with self._slots:
            for record in records:
                await self.process_record(record)

    async def process_record(self, record: ConsumerRecord) -> None:
        """Decode and handle one record; never raises for a bad record."""
        try:
            envelope = decode(record.value)
        except UndecodableEvent as exc:
            await self.dead_letter(record, "undecodable", str(exc), event_type="undecodable")
            return
        if not self.dispatcher.handles(envelope.event_type):
            self.metrics.consumed.labels(envelope.event_type, "ignored").inc()
            return
        with log_context(
            trace_id=envelope.trace_id, event_id=envelope.event_id, item_id=envelope.item_id
        ):
            await self._handle_with_retries(record, envelope)

    async def _handle_with_retries(self, record: ConsumerRecord, envelope: Envelope) -> None:
        event_type = envelope.event_type
        started = time.perf_counter()
        for attempt in range(1, self.max_attempts + 1):
            try:
                await self.dispatcher.handle([envelope])
            except PoisonMessage as exc:
                await self.dead_letter(record, "rejected", str(exc), event_type=event_type)
                return
            except Exception as exc:
                if attempt == self.max_attempts:
                    log.exception("handler failed %d times; dead-lettering", attempt)
                    reason = f"failed after {attempt} attempts: {type(exc).__name__}: {exc}"
                    await self.dead_letter(record, "handler_failed", reason, event_type=event_type)
                    return
                self.metrics.handler_retries.labels(event_type).inc()
                log.warning("handler attempt %d failed: %r; retrying", attempt, exc)
                await asyncio.sleep(self.backoff_seconds * 2 ** (attempt - 1))
            else:
                self.metrics.handler_seconds.labels(event_type).observe(
                    time.perf_counter() - started
                )
                self.metrics.consumed.labels(event_type, "ok").inc()
                return

    async def dead_letter(
        self, record: ConsumerRecord, kind: str, reason: str, *, event_type: str
    ) -> None:
        """Send the original bytes, with the reason in headers, to the dead-letter topic."""
        headers = [
            *list(record.headers or ()),
            ("dlq_reason", reason.encode()),
            ("dlq_reason_kind", kind.encode()),
            ("dlq_consumer_group", self.group_id.encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
        ]
        await self.publisher.send_raw(
            [
                RawEvent(
                    topic=self.publisher.topics.dead_letter,
                    key=record.key or b"",
                    value=record.value or b"",
                    headers=headers,
                    event_type=event_type,
                )
            ]
        )
        self.metrics.dead_letters.labels(kind).inc()
        self.metrics.consumed.labels(event_type, "dead_lettered").inc()
        log.error("dead-lettered %s record: %s", kind, reason)

    def _record_lag(self) -> None:
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            position = self._positions.get(tp)
            if highwater is not None and position is not None:
                lag = max(0, highwater - position)
                self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(lag)
