"""Review: annotations scored per second, and the latency from AnnotationSubmitted
to ReviewDecided.

The review service runs as its own process; the benchmark plays the annotation
service, publishing AnnotationSubmitted events straight onto the annotations
topic, and listens on the reviews topic.

- Throughput: a burst of items, each labelled by three annotators (overlap 3),
  classification labels; the clock stops when every annotation is scored.
- Latency: single annotations (overlap 1) at a steady rate well under capacity;
  each one's latency runs from its publication to the moment its ReviewDecided
  arrives back on the reviews topic, so it includes the outbox relay and both
  Kafka hops.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry

from labelmesh.core.bus import EventPublisher, ensure_topics
from labelmesh.core.envelopes import decode, new_envelope, user_actor
from labelmesh.core.metrics import BusMetrics
from labelmesh.core.topics import REVIEWS, Topics
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


def bench_review(bootstrap: str, mongo_uri: str, root: Path, items: int) -> tuple[float, float]:
    """Returns (annotations scored per second, p95 latency in seconds)."""
    env = {**stack_env(bootstrap, mongo_uri, PREFIX, root), "LABELMESH_LOG_LEVEL": "WARNING"}
    print("review: starting the review service ...", flush=True)
    with running_services(env, root / "review-logs", names=["review"]) as addresses:
        return asyncio.run(_drive(bootstrap, addresses["review"].metrics, items))


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


async def _drive(bootstrap: str, metrics_url: str, items: int) -> tuple[float, float]:
    topics = Topics(PREFIX)
    await ensure_topics(bootstrap, topics.all(), 3)
    publisher = EventPublisher(bootstrap, topics, BusMetrics("bench", CollectorRegistry()))
    await publisher.start()
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            burst, steady = _project(3), _project(1)
            await publisher.publish([burst, steady])
            rate = await _throughput(publisher, client, metrics_url, burst.project_id, items)
        p95 = await _latency(publisher, bootstrap, topics, steady.project_id)
    finally:
        await publisher.stop()
    return rate, p95


async def _throughput(
    publisher: EventPublisher,
    client: httpx.AsyncClient,
    metrics_url: str,
    project_id: str,
    items: int,
) -> float:
    envelopes = [
        _submission(project_id, f"item-{i}", annotator, 3, CLASSES[i % len(CLASSES)])
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
    publisher: EventPublisher, bootstrap: str, topics: Topics, project_id: str
) -> float:
    count, per_second = 300, 50
    consumer = AIOKafkaConsumer(
        topics.name(REVIEWS),
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4()}",
        auto_offset_reset="latest",
    )
    await consumer.start()
    await _wait_for_assignment(consumer)
    sent: dict[str, float] = {}
    latencies: list[float] = []
    print(f"review: latency of {count} single annotations at {per_second}/s ...", flush=True)

    async def receive() -> None:
        while len(latencies) < count:
            batch = await consumer.getmany(timeout_ms=500)
            arrived = time.perf_counter()
            for records in batch.values():
                for record in records:
                    envelope = decode(record.value)
                    if envelope.WhichOneof("payload") != "review_decided":
                        continue
                    decided: ReviewDecided = envelope.review_decided
                    if decided.annotation_id in sent:
                        latencies.append(arrived - sent.pop(decided.annotation_id))

    receiving = asyncio.create_task(receive())
    for i in range(count):
        envelope = _submission(project_id, f"steady-{i}", ANNOTATORS[i % 5], 1, CLASSES[0])
        sent[envelope.annotation_submitted.annotation_id] = time.perf_counter()
        await publisher.publish([envelope])
        await asyncio.sleep(1 / per_second)
    await asyncio.wait_for(receiving, timeout=120)
    await consumer.stop()
    return statistics.quantiles(latencies, n=20)[-1]


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
