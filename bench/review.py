"""Review: annotations scored per second, and the latency from AnnotationSubmitted
to ReviewDecided at a steady rate.

The review service runs as its own process; the benchmark plays the annotation
service, publishing AnnotationSubmitted events straight onto the annotations
topic, and listens on the reviews topic.

- Throughput: a burst of items, each labelled by three annotators (overlap 3),
  classification labels; the clock stops when every annotation is scored.
- Latency: single annotations (overlap 1), sent open-loop at a steady rate
  (100/s by default): each send is due at a fixed time whether or not the
  service kept up, so a slow service shows as latency instead of slowing the
  sender. Each one's latency runs from the time it was due to the moment its
  ReviewDecided arrives back on the reviews topic, so it includes the outbox
  relay and both Kafka hops. The first second warms up and is not counted.

`python -m bench.review` runs this benchmark alone, on a broker and database of
its own.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry

from labelmesh.core.bus import EventPublisher, ensure_topics
from labelmesh.core.envelopes import decode, new_envelope, user_actor
from labelmesh.core.metrics import BusMetrics
from labelmesh.core.topics import REVIEWS, Topics
from labelmesh.devstack.infra import running_infrastructure
from labelmesh.devstack.services import running_services, stack_env
from labelmesh.v1.events_pb2 import (
    AnnotationSubmitted,
    DataType,
    Envelope,
    ProjectCreated,
    ProjectSpec,
    ReviewDecided,
    ReviewPolicy,
)
from labelmesh.v1.geometry_pb2 import Classification, Label

PREFIX = "review-bench"
CLASSES = ["cat", "dog", "bird", "fish", "horse"]
ANNOTATORS = [f"annotator-{i}" for i in range(5)]
CHUNK = 1_000
# The steady load the latency is measured at (issue 10: p95 at most 200 ms at 100/s).
RATE, SECONDS, WARM_UP_SECONDS = 100.0, 15.0, 1.0


@dataclass(frozen=True)
class Latency:
    """AnnotationSubmitted to ReviewDecided at a steady rate, in seconds."""

    rate: float
    count: int
    p50: float
    p95: float
    p99: float
    max: float
    # Medians of the two halves of the way: until the service emitted the decision
    # (first Kafka hop, queueing, the handler), and from there until it arrived
    # (the rest of the transaction, the outbox relay, the second hop).
    to_decision: float
    from_decision: float
    # How far behind its schedule the sender fell at worst: if this is large, the
    # figures describe the benchmark's machine more than the service.
    send_lag: float


def bench_review(
    bootstrap: str,
    mongo_uri: str,
    root: Path,
    items: int,
    rate: float = RATE,
    seconds: float = SECONDS,
) -> tuple[float, float]:
    """Returns (annotations scored per second, p95 latency in seconds at `rate` per second)."""
    env = {**stack_env(bootstrap, mongo_uri, PREFIX, root), "LABELMESH_LOG_LEVEL": "WARNING"}
    print("review: starting the review service ...", flush=True)
    with running_services(env, root / "review-logs", names=["review"]) as addresses:
        scored, latency = asyncio.run(
            _drive(bootstrap, addresses["review"].metrics, items, rate, seconds)
        )
    print(
        f"review: at {latency.rate:,.0f} submissions/s ({latency.count:,} counted): "
        f"p50 {latency.p50 * 1000:,.0f} ms, p95 {latency.p95 * 1000:,.0f} ms, "
        f"p99 {latency.p99 * 1000:,.0f} ms, max {latency.max * 1000:,.0f} ms; median "
        f"{latency.to_decision * 1000:,.0f} ms to the decision, "
        f"{latency.from_decision * 1000:,.0f} ms from it to its arrival "
        f"(sender at worst {latency.send_lag * 1000:,.0f} ms behind schedule)",
        flush=True,
    )
    return scored, latency.p95


def _project(overlap: int) -> Envelope:
    spec = ProjectSpec(
        project_id=str(uuid.uuid4()),
        name=f"bench overlap {overlap}",
        data_type=DataType.DATA_TYPE_TEXT,
        classes=CLASSES,
        # No adjudication: every item completes by consensus, so every annotation is scored.
        review_policy=ReviewPolicy(version=1, overlap=overlap),
    )
    return new_envelope(
        ProjectCreated(project=spec),
        producer="bench",
        actor=user_actor("bench"),
        project_id=spec.project_id,
    )


def _submission(
    project_id: str, item_id: str, annotator: str, overlap: int, truth: str
) -> Envelope:
    answer = truth if random.random() < 0.9 else random.choice(CLASSES)
    label = Label(classification=Classification(label=answer))
    return new_envelope(
        AnnotationSubmitted(
            annotation_id=str(uuid.uuid4()),
            task_id=f"task-{item_id}",
            annotator=annotator,
            labels=[label],
            overlap=overlap,
            seconds_spent=5.0,
        ),
        producer="bench",
        actor=user_actor(annotator),
        project_id=project_id,
        item_id=item_id,
    )


def _scored(metrics_text: str) -> int:
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith("labelmesh_review_annotations_scored_total{"):
            total += float(line.split()[-1])
    return int(total)


async def _drive(
    bootstrap: str, metrics_url: str, items: int, rate: float, seconds: float
) -> tuple[float, Latency]:
    topics = Topics(PREFIX)
    await ensure_topics(bootstrap, topics.all(), 3)
    publisher = EventPublisher(bootstrap, topics, BusMetrics("bench", CollectorRegistry()))
    await publisher.start()
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            burst, steady = _project(3), _project(1)
            await publisher.publish([burst, steady])
            scored = 0.0
            if items:
                scored = await _throughput(publisher, client, metrics_url, burst.project_id, items)
        latency = await _latency(publisher, bootstrap, topics, steady.project_id, rate, seconds)
    finally:
        await publisher.stop()
    return scored, latency


async def _throughput(
    publisher: EventPublisher,
    client: httpx.AsyncClient,
    metrics_url: str,
    project_id: str,
    items: int,
) -> float:
    envelopes = [
        _submission(project_id, f"{project_id}-item-{i}", annotator, 3, CLASSES[i % len(CLASSES)])
        for i in range(items)
        for annotator in random.sample(ANNOTATORS, 3)
    ]
    before = _scored((await client.get(metrics_url)).text)
    print(f"review: {len(envelopes):,} annotations of {items:,} items (overlap 3) ...", flush=True)
    started = time.perf_counter()
    for offset in range(0, len(envelopes), CHUNK):
        await publisher.publish(envelopes[offset : offset + CHUNK])
    reported = -1
    while (done := _scored((await client.get(metrics_url)).text) - before) < len(envelopes):
        if done * 10 // len(envelopes) > reported:
            reported = done * 10 // len(envelopes)
            print(f"review: {done:,}/{len(envelopes):,} annotations scored", flush=True)
        await asyncio.sleep(0.25)
    return len(envelopes) / (time.perf_counter() - started)


async def _latency(
    publisher: EventPublisher,
    bootstrap: str,
    topics: Topics,
    project_id: str,
    rate: float,
    seconds: float,
) -> Latency:
    """Open loop: submission i is due at start + i / rate; publishing never holds up
    the next one, and latency counts from the due time."""
    warm_up = int(rate * WARM_UP_SECONDS)
    count = warm_up + int(rate * seconds)
    consumer = AIOKafkaConsumer(
        topics.name(REVIEWS),
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4()}",
        auto_offset_reset="latest",
        # The benchmark's own fetch must not wait for more bytes than one record.
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    await _wait_for_assignment(consumer)
    due: dict[str, float] = {}
    counted: set[str] = set()
    latencies: list[float] = []
    halves: list[tuple[float, float]] = []
    # The service stamps its events with the wall clock; the schedule runs on perf_counter.
    wall_offset = time.time() - time.perf_counter()
    received = 0
    print(
        f"review: latency of {count - warm_up:,} single annotations at {rate:,.0f}/s "
        f"(open loop, after {warm_up} to warm up) ...",
        flush=True,
    )

    async def receive() -> None:
        nonlocal received
        while received < count:
            batch = await consumer.getmany(timeout_ms=100)
            arrived = time.perf_counter()
            for records in batch.values():
                for record in records:
                    envelope = decode(record.value)
                    if envelope.WhichOneof("payload") != "review_decided":
                        continue
                    decided: ReviewDecided = envelope.review_decided
                    if decided.annotation_id in due:
                        received += 1
                        sent_at = due.pop(decided.annotation_id)
                        if decided.annotation_id in counted:
                            latencies.append(arrived - sent_at)
                            made = envelope.occurred_at.ToNanoseconds() / 1e9 - wall_offset
                            halves.append((made - sent_at, arrived - made))

    receiving = asyncio.create_task(receive())
    sends: set[asyncio.Task[None]] = set()
    send_lag = 0.0
    start = time.perf_counter() + 0.1
    for i in range(count):
        # Items are named by project: a run after another on the same database
        # must not find its items decided already.
        envelope = _submission(
            project_id, f"{project_id}-steady-{i}", ANNOTATORS[i % 5], 1, CLASSES[0]
        )
        at = start + i / rate
        if (wait := at - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        send_lag = max(send_lag, time.perf_counter() - at)
        annotation_id = envelope.annotation_submitted.annotation_id
        due[annotation_id] = at
        if i >= warm_up:
            counted.add(annotation_id)
        send = asyncio.create_task(publisher.publish([envelope]))
        sends.add(send)
        send.add_done_callback(sends.discard)
    await asyncio.gather(*sends)
    await asyncio.wait_for(receiving, timeout=120)
    await consumer.stop()
    cuts = statistics.quantiles(latencies, n=100)
    return Latency(
        rate=rate,
        count=len(latencies),
        p50=cuts[49],
        p95=cuts[94],
        p99=cuts[98],
        max=max(latencies),
        to_decision=statistics.median(h[0] for h in halves),
        from_decision=statistics.median(h[1] for h in halves),
        send_lag=send_lag,
    )


async def _wait_for_assignment(consumer: AIOKafkaConsumer) -> None:
    """Joining the group takes a moment; events before that would be missed."""
    deadline = time.monotonic() + 30
    while not consumer.assignment():
        if time.monotonic() > deadline:
            raise RuntimeError("the benchmark's consumer got no partitions")
        await consumer.getmany(timeout_ms=200)
    for partition in consumer.assignment():
        await consumer.seek_to_end(partition)
        await consumer.position(partition)


def main() -> None:
    """This benchmark alone, on a broker and database of its own."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=2_000, help="items of 3 annotations (burst)")
    parser.add_argument("--rate", type=float, default=RATE, help="submissions per second")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="of steady load")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labelmesh-bench-review-") as tmp:
        root = Path(tmp)
        with running_infrastructure(root) as infra:
            scored, _ = bench_review(
                infra.bootstrap, infra.mongo_uri, root, args.items, args.rate, args.seconds
            )
    if args.items:
        print(f"review: {scored:8,.0f} annotations scored/s  ({args.items:,} items x 3)")


if __name__ == "__main__":
    main()
