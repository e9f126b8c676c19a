"""Import: text items per second into the ingest service, through the REST
batch API (1,000 items per request) and through the gRPC stream (one item per
message), into a project that already holds many items.

`measure_imports` starts nothing: it takes a running ingest service and a
project the service knows (`announce_project` creates one the way annotation
does, `wait_for_project` waits until ingest has heard of it). `prefill` puts
items into the project first, straight into the ingest service's database, in
the shape an upload stores (built by the same functions an upload goes through).
`python -m bench.imports` starts a broker, a database and the ingest service
on free ports, fills a project and prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
import httpx
from prometheus_client import CollectorRegistry
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.bus import EventPublisher, ensure_topics
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.core.metrics import BusMetrics
from labelmesh.core.mongo import Document, connect
from labelmesh.core.topics import Topics
from labelmesh.devstack.infra import running_infrastructure
from labelmesh.devstack.keys import StackKeys
from labelmesh.devstack.services import ServiceAddress, running_services, stack_env
from labelmesh.ingest.adapters.repository import ITEMS, item_document
from labelmesh.ingest.domain import Upload, prepare
from labelmesh.ingest.drafts import stored
from labelmesh.ingest.usecases import MAX_BATCH, SERVICE
from labelmesh.v1 import ingest_service_pb2 as pb
from labelmesh.v1 import ingest_service_pb2_grpc as pb_grpc
from labelmesh.v1.events_pb2 import DataType, ProjectCreated, ProjectSpec

PREFILL_BATCH = 10_000
MAX_TEXT_BYTES = 1 << 20
USER = "bench"
TOPICS = ["sports", "politics", "technology", "business", "health"]


@dataclass(frozen=True)
class ImportRates:
    """Text items per second, `items` new ones through each API, into a project
    that held `project_size` items before: REST one request after another and
    with two requests in flight (as a bulk client would), and one gRPC stream."""

    rest: float
    rest_two_in_flight: float
    grpc: float
    items: int
    project_size: int

    def lines(self) -> list[str]:
        at = f"{self.items:,} new texts into a project of {self.project_size:,}"
        batch = f"requests of {MAX_BATCH:,}"
        return [
            f"import REST: {self.rest:8,.0f} items/s  ({at}, {batch}, one at a time)",
            f"import REST: {self.rest_two_in_flight:8,.0f} items/s  ({at}, {batch}, two at a time)",
            f"import gRPC: {self.grpc:8,.0f} items/s  ({at}, one stream, one item per message)",
        ]


def text(run: str, n: int) -> str:
    """The `n`th distinct text of a run; `run` keeps runs from deduplicating each other."""
    return f"{run} report {n}: news about {TOPICS[n % len(TOPICS)]} today"


async def announce_project(bootstrap: str, topic_prefix: str, project_id: str) -> None:
    """Create a text project the way annotation does: by publishing ProjectCreated."""
    topics = Topics(topic_prefix)
    await ensure_topics(bootstrap, topics.all(), 3)
    spec = ProjectSpec(
        project_id=project_id, name="import bench", data_type=DataType.DATA_TYPE_TEXT
    )
    spec.classes.extend(TOPICS)
    created = new_envelope(
        ProjectCreated(project=spec),
        producer="bench",
        actor=user_actor(USER),
        project_id=project_id,
    )
    publisher = EventPublisher(bootstrap, topics, BusMetrics("bench_imports", CollectorRegistry()))
    await publisher.start()
    try:
        await publisher.publish([created])
    finally:
        await publisher.stop()


async def wait_for_project(
    address: ServiceAddress, project_id: str, auth: Mapping[str, str], within: float = 60
) -> None:
    """Until the ingest service knows the project; it answers 404 before. `auth`
    holds the headers of a caller who may import (here and below)."""
    deadline = time.monotonic() + within
    url = f"{address.rest}/v1/projects/{project_id}/items"
    body = {"items": [{"text": f"warm-up {uuid.uuid4()}"}]}
    async with httpx.AsyncClient(timeout=30, headers=dict(auth)) as client:
        while (response := await client.post(url, json=body)).status_code == 404:
            if time.monotonic() > deadline:
                raise TimeoutError(f"ingest did not hear of project {project_id} in {within} s")
            await asyncio.sleep(0.2)
        response.raise_for_status()


def stored_documents(project_id: str, texts: Sequence[str], at: datetime) -> list[Document]:
    """The documents an upload of `texts` would store."""
    documents = []
    for n, words in enumerate(texts):
        item = prepare(Upload(text=words), project_id, f"items[{n}]", MAX_TEXT_BYTES)
        documents.append(item_document(stored(item, at)))
    return documents


async def prefill(
    db: AsyncDatabase[Document],
    project_id: str,
    count: int,
    progress: Callable[[int], None] = lambda done: None,
) -> None:
    """Put `count` text items into the project, in bulk, straight into the ingest
    service's database `db`; `progress` hears the running total after each batch.
    Building a batch overlaps with inserting the one before."""
    items = db[ITEMS]
    at = datetime.now(UTC)
    run = f"prefill {uuid.uuid4().hex[:8]}"

    def build(start: int) -> list[Document]:
        stop = min(count, start + PREFILL_BATCH)
        return stored_documents(project_id, [text(run, n) for n in range(start, stop)], at)

    if count <= 0:
        return
    building = asyncio.ensure_future(asyncio.to_thread(build, 0))
    for start in range(0, count, PREFILL_BATCH):
        documents = await building
        if start + PREFILL_BATCH < count:
            building = asyncio.ensure_future(asyncio.to_thread(build, start + PREFILL_BATCH))
        await items.insert_many(documents, ordered=False)
        progress(start + len(documents))


async def rest_rate(
    address: ServiceAddress,
    project_id: str,
    texts: Sequence[str],
    auth: Mapping[str, str],
    in_flight: int = 1,
) -> float:
    """Items per second uploading `texts` in requests of MAX_BATCH, `in_flight` at a time."""
    url = f"{address.rest}/v1/projects/{project_id}/items"
    # Encoded beforehand, so the client's own work stays out of the figure.
    bodies = [
        json.dumps({"items": [{"text": t} for t in texts[i : i + MAX_BATCH]]}).encode()
        for i in range(0, len(texts), MAX_BATCH)
    ]
    pending = iter(bodies)
    headers = {**auth, "Content-Type": "application/json"}
    async with httpx.AsyncClient(timeout=120, headers=headers) as client:

        async def send() -> None:
            for body in pending:
                response = await client.post(url, content=body)
                response.raise_for_status()
                results = response.json()["results"]
                _all_new([(bool(r["duplicate"]), "error" in r) for r in results])

        started = time.perf_counter()
        await asyncio.gather(*(send() for _ in range(in_flight)))
        return len(texts) / (time.perf_counter() - started)


async def grpc_rate(
    address: ServiceAddress, project_id: str, texts: Sequence[str], auth: Mapping[str, str]
) -> float:
    """Items per second uploading `texts` as one stream of one item per message."""
    messages = [
        pb.UploadItemStreamRequest(project_id=project_id, item=pb.ItemUpload(text=t)) for t in texts
    ]
    async with grpc.aio.insecure_channel(address.grpc) as channel:
        stub = pb_grpc.IngestServiceStub(channel)  # type: ignore[no-untyped-call]
        started = time.perf_counter()
        response = await stub.UploadItemStream(
            iter(messages), metadata=[(k.lower(), v) for k, v in auth.items()], timeout=600
        )
        elapsed = time.perf_counter() - started
    _all_new([(r.duplicate, r.HasField("error")) for r in response.results])
    return len(texts) / elapsed


def _all_new(results: Sequence[tuple[bool, bool]]) -> None:
    # Every text of a run is new: a duplicate or an error would make the figure wrong.
    refused = [n for n, (duplicate, error) in enumerate(results) if duplicate or error]
    if refused:
        raise AssertionError(f"{len(refused)} of {len(results)} uploads were not stored as new")


async def measure_imports(
    address: ServiceAddress,
    project_id: str,
    auth: Mapping[str, str],
    items: int = 10_000,
    project_size: int = 0,
) -> ImportRates:
    """REST and gRPC import rates of `items` new texts each into a project the
    service knows; `project_size` (how many items it held) only labels the figures."""
    run = uuid.uuid4().hex[:8]

    def batch(api: str) -> list[str]:
        return [text(f"{api} {run}", n) for n in range(items)]

    one = await rest_rate(address, project_id, batch("rest"), auth)
    two = await rest_rate(address, project_id, batch("rest2"), auth, in_flight=2)
    streamed = await grpc_rate(address, project_id, batch("grpc"), auth)
    return ImportRates(one, two, streamed, items, project_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prefill", type=int, default=1_000_000, help="items in the project first")
    parser.add_argument("--items", type=int, default=10_000, help="new items through each API")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labelmesh-imports-") as tmp:
        root = Path(tmp)
        print("imports: starting broker and database ...", flush=True)
        with running_infrastructure(root) as infra:
            env = {
                **stack_env(infra.bootstrap, infra.mongo_uri, "imports", root),
                "LABELMESH_LOG_LEVEL": "WARNING",
            }
            with running_services(env, root / "logs", names=["access", SERVICE]) as addresses:
                # A service's database is named <LABELMESH_MONGO_DATABASE>_<service>.
                database_name = f"imports_{SERVICE}"
                auth = StackKeys.of(addresses, root).headers("")
                rates = asyncio.run(
                    _run(
                        addresses[SERVICE],
                        infra.bootstrap,
                        infra.mongo_uri,
                        database_name,
                        auth,
                        args,
                    )
                )
    print()
    for line in rates.lines():
        print(line)


async def _run(
    address: ServiceAddress,
    bootstrap: str,
    mongo_uri: str,
    database: str,
    auth: Mapping[str, str],
    args: argparse.Namespace,
) -> ImportRates:
    project_id = str(uuid.uuid4())
    await announce_project(bootstrap, "imports", project_id)
    await wait_for_project(address, project_id, auth)
    if args.prefill:
        client = connect(mongo_uri)
        started = time.perf_counter()

        def report(done: int) -> None:
            if done % 100_000 < PREFILL_BATCH or done == args.prefill:
                rate = done / (time.perf_counter() - started)
                print(
                    f"imports: {done:,}/{args.prefill:,} items in the project ({rate:,.0f}/s)",
                    flush=True,
                )

        try:
            await prefill(client[database], project_id, args.prefill, report)
        finally:
            await client.close()
    print(f"imports: uploading {args.items:,} items over REST, then over gRPC ...", flush=True)
    return await measure_imports(address, project_id, auth, args.items, args.prefill)


if __name__ == "__main__":
    main()
