"""Bucket sync at size, against moto's S3 server: 100,000 text objects synced
by reference, then 1,000 more. The second sync must list and read only the new
ones (figures from a reader that notes every listed and read key, beside the
sync's own counts), and a third, with nothing new, nothing at all.

Ingest runs in process on a database of its own (no HTTP): the figures are
what the sync worker does. moto's server runs in a process of its own, as a
customer's S3 or MinIO would, and puts the objects in through its backend.
The rate of reads is moto's: each of its answers costs it a few milliseconds
of routing on one core, where MinIO answers far faster.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import tempfile
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path

from moto.server import ThreadedMotoServer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from labelmesh.core.config import CoreSettings
from labelmesh.core.envelopes import user_actor
from labelmesh.devstack.infra import running_infrastructure
from labelmesh.ingest.app import IngestApp, build_app
from labelmesh.ingest.config import IngestSettings
from labelmesh.testing.s3_buckets import (
    ACCESS_KEY,
    SECRET_KEY,
    CountingReader,
    CountingReaders,
    customer_bucket,
    put_objects,
)
from labelmesh.v1.events_pb2 import ProjectSpec
from labelmesh.v1.ingest_service_pb2 import Bucket, BucketMode, RegisterBucketRequest, SyncState

OBJECTS_DEFAULT = 100_000
MORE = 1_000
PROJECT = "bench-buckets"
BUCKET = "bench-customer"
ACTOR = user_actor("bench")
console = Console()


def bench_buckets(objects: int = OBJECTS_DEFAULT) -> None:
    with tempfile.TemporaryDirectory(prefix="labelmesh-bench-buckets-") as tmp:
        console.print("buckets: starting broker, database and moto's S3 server ...")
        with running_infrastructure(Path(tmp)) as infra:
            ours, theirs = multiprocessing.get_context("spawn").Pipe()
            moto = multiprocessing.get_context("spawn").Process(
                target=_serve_s3, args=(theirs,), daemon=True
            )
            moto.start()
            try:
                core = CoreSettings(
                    kafka_bootstrap_servers=infra.bootstrap,
                    mongo_uri=infra.mongo_uri,
                    mongo_database="bench",
                    topic_prefix="bench",
                )
                rows = asyncio.run(_run(core, S3Process(ours), objects))
            finally:
                moto.terminate()
    table = Table(title=f"bucket sync: {objects:,} objects, then {MORE:,} more (moto S3)")
    for column in ("sync", "seconds", "objects/s", "keys listed", "objects read", "stored"):
        table.add_column(column, justify="right" if column != "sync" else "left")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _serve_s3(commands: Connection) -> None:
    """moto's S3 server, in a process of its own: answers its endpoint, then
    puts the (start, stop) ranges of texts it is sent in the bucket."""
    # moto's server logs every request it answers.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"{host}:{port}"
    customer_bucket(endpoint, BUCKET)
    commands.send(endpoint)
    while True:
        start, stop = commands.recv()
        put_objects(BUCKET, _texts(start, stop))
        commands.send(stop - start)


class S3Process:
    def __init__(self, commands: Connection) -> None:
        self.commands = commands
        self.endpoint: str = commands.recv()

    def put_texts(self, start: int, stop: int) -> None:
        self.commands.send((start, stop))
        self.commands.recv()


async def _run(core: CoreSettings, s3: S3Process, objects: int) -> list[tuple[str, ...]]:
    endpoint = s3.endpoint
    settings = IngestSettings(
        **{
            **core.model_dump(),
            "object_store": "s3",
            "s3_endpoint": endpoint,
            "s3_access_key": "bench",
            "s3_secret_key": "bench",
            "s3_bucket": f"media-{uuid.uuid4().hex[:12]}",
            "url_allow_networks": "127.0.0.0/8",
        }
    )
    app = build_app(settings)
    readers = CountingReaders(app.sync_worker.sync.intake.readers)
    app.sync_worker.sync.intake.readers = readers
    assert app.service.on_start is not None
    await app.service.on_start()
    try:
        async with app.service.platform.uow.begin() as tx:
            await app.projects.save(tx, ProjectSpec(project_id=PROJECT))
        with console.status(f"buckets: putting {objects:,} objects in the bucket ..."):
            s3.put_texts(0, objects)
        request = RegisterBucketRequest(
            project_id=PROJECT,
            endpoint=endpoint,
            bucket=BUCKET,
            mode=BucketMode.BUCKET_MODE_REFERENCE,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
        )
        bucket, _ = await app.buckets.register(request, "bench")
        rows = [await _timed_sync(app, readers, bucket, "first", objects)]
        s3.put_texts(objects, objects + MORE)
        rows.append(await _timed_sync(app, readers, bucket, f"after {MORE:,} more", MORE))
        rows.append(await _timed_sync(app, readers, bucket, "nothing new", 0))
        return rows
    finally:
        await app.urls.fetcher.close()
        await app.service.platform.close()


async def _timed_sync(
    app: IngestApp, readers: CountingReaders, bucket: Bucket, name: str, expected: int
) -> tuple[str, ...]:
    counting = readers.counting.get(bucket.bucket_id)
    if counting:
        counting.forget()
    await app.buckets.sync(bucket.bucket_id, False, ACTOR)
    started = time.perf_counter()
    run = asyncio.create_task(app.sync_worker.run_next())
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        shown = progress.add_task(f"buckets: {name} sync", total=expected or None)
        while not run.done():
            await asyncio.wait({run}, timeout=1.0)
            synced = (await app.buckets.stored(bucket.bucket_id)).bucket
            progress.update(shown, completed=synced.counts.read)
    await run
    seconds = time.perf_counter() - started
    synced = (await app.buckets.stored(bucket.bucket_id)).bucket
    if synced.state != SyncState.SYNC_STATE_SUCCEEDED:
        raise RuntimeError(f"the {name} sync failed: {synced.error}")
    seen: CountingReader = readers.counting[bucket.bucket_id]
    if len(seen.read_keys) != expected:
        raise RuntimeError(f"the {name} sync read {len(seen.read_keys):,}, not {expected:,}")
    rate = f"{synced.counts.read / seconds:,.0f}" if synced.counts.read else "-"
    return (
        name,
        f"{seconds:,.1f}",
        rate,
        f"{len(seen.listed):,}",
        f"{len(seen.read_keys):,}",
        f"{synced.counts.stored:,}",
    )


def _texts(start: int, stop: int) -> list[tuple[str, bytes]]:
    return [(f"texts/{i:07d}.txt", f"bucket object {i}".encode()) for i in range(start, stop)]


if __name__ == "__main__":
    bench_buckets()
