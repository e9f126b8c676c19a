"""Bucket sync against a real S3 server (moto's) and the real database: what a
sync lists and reads, by reference and by copy, deletions mirrored, and event
notifications."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import httpx
import pytest

from labelmesh.core.config import CoreSettings
from labelmesh.core.envelopes import user_actor
from labelmesh.core.outbox import stored_events
from labelmesh.ingest.adapters.repository import ITEMS
from labelmesh.ingest.app import IngestApp, build_app
from labelmesh.ingest.buckets.notifications import CREATED, REMOVED, ObjectEvent
from labelmesh.testing.exports import png
from labelmesh.testing.s3_buckets import (
    ACCESS_KEY,
    SECRET_KEY,
    CountingReader,
    CountingReaders,
    customer_bucket,
    delete_objects,
    put_objects,
)
from labelmesh.v1.events_pb2 import ProjectSpec
from labelmesh.v1.ingest_service_pb2 import (
    Bucket,
    BucketMode,
    RegisterBucketRequest,
    SyncState,
)

from .conftest import ingest_settings

pytestmark = pytest.mark.integration
DANA = user_actor("dana")
# The suite's sizes; `make bench` (bench/buckets.py) syncs 100,000 then 1,000 more.
FIRST, MORE = 2_500, 1_000


@dataclass
class Harness:
    app: IngestApp
    endpoint: str
    readers: CountingReaders

    async def register(
        self, name: str, mode: int, mirror_deletions: bool = False, prefix: str = ""
    ) -> Bucket:
        request = RegisterBucketRequest(
            project_id="p1",
            endpoint=self.endpoint,
            bucket=name,
            prefix=prefix,
            mode=mode,
            mirror_deletions=mirror_deletions,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
        )
        bucket, new = await self.app.buckets.register(request, "dana")
        assert new
        return bucket

    async def sync(self, bucket: Bucket, full: bool = False) -> tuple[Bucket, CountingReader]:
        """Run one sync to its end; the bucket after it, and what it listed and read."""
        counting = self.readers.counting.get(bucket.bucket_id)
        if counting:
            counting.forget()
        _, queued = await self.app.buckets.sync(bucket.bucket_id, full, DANA)
        assert queued
        assert await self.app.sync_worker.run_next()
        synced = (await self.app.buckets.stored(bucket.bucket_id)).bucket
        assert synced.state == SyncState.SYNC_STATE_SUCCEEDED, synced.error
        return synced, self.readers.counting[bucket.bucket_id]

    async def items_of(self, bucket_name: str) -> dict[str, dict[str, object]]:
        """The project's items from this bucket, by their object's key."""
        db = self.app.service.platform.db
        prefix = f"s3://{bucket_name}/"
        found = db[ITEMS].find({"project_id": "p1", "source": "bucket"})
        return {
            d["source_uri"].removeprefix(prefix): d
            async for d in found
            if d["source_uri"].startswith(prefix)
        }


@pytest.fixture
async def harness(core_settings: CoreSettings, moto_endpoint: str) -> AsyncIterator[Harness]:
    app = build_app(ingest_settings(core_settings, moto_endpoint))
    readers = CountingReaders(app.sync_worker.sync.intake.readers)
    app.sync_worker.sync.intake.readers = readers
    assert app.service.on_start is not None
    await app.service.on_start()
    async with app.service.platform.uow.begin() as tx:
        await app.projects.save(tx, ProjectSpec(project_id="p1", classes=["cat"]))
    yield Harness(app, moto_endpoint, readers)
    await app.urls.fetcher.close()
    await app.service.platform.close()


def bucket_name() -> str:
    return f"customer-{uuid.uuid4().hex[:12]}"


def texts(start: int, count: int) -> list[tuple[str, bytes]]:
    return [(f"texts/{i:07d}.txt", f"object number {i}".encode()) for i in range(start, count)]


def keys(objects: Sequence[tuple[str, bytes]]) -> list[str]:
    return [key for key, _ in objects]


async def test_a_second_sync_lists_and_reads_only_the_objects_added_since(
    harness: Harness,
) -> None:
    name = bucket_name()
    customer_bucket(harness.endpoint, name)
    first = texts(0, FIRST)
    put_objects(name, first)
    bucket = await harness.register(name, BucketMode.BUCKET_MODE_COPY)

    synced, seen = await harness.sync(bucket)
    assert sorted(seen.read_keys) == keys(first)
    counts = synced.counts
    assert (counts.listed, counts.read, counts.stored, counts.failed) == (FIRST, FIRST, FIRST, 0)
    assert synced.cursor == first[-1][0]

    more = texts(FIRST, FIRST + MORE)
    put_objects(name, more)
    synced, seen = await harness.sync(bucket)
    assert seen.listed == keys(more), "the listing starts after the cursor"
    assert sorted(seen.read_keys) == keys(more)
    assert (synced.counts.listed, synced.counts.read, synced.counts.stored) == (MORE, MORE, MORE)
    items = await harness.items_of(name)
    assert len(items) == FIRST + MORE
    assert items[more[0][0]]["text"] == more[0][1].decode()

    synced, seen = await harness.sync(bucket)
    assert (seen.listed, seen.read_keys, synced.counts.stored) == ([], [], 0)
    registry = harness.app.service.platform.registry
    objects = "labelmesh_ingest_bucket_objects_total"
    assert registry.get_sample_value(objects, {"outcome": "read"}) == FIRST + MORE
    assert registry.get_sample_value(objects, {"outcome": "stored"}) == FIRST + MORE
    syncs = registry.get_sample_value("labelmesh_ingest_bucket_syncs_total", {"state": "succeeded"})
    assert syncs == 3


async def test_a_full_sync_reads_only_changed_objects_and_mirrors_deletions(
    harness: Harness,
) -> None:
    name = bucket_name()
    customer_bucket(harness.endpoint, name)
    objects = texts(0, 20)
    put_objects(name, objects)
    bucket = await harness.register(name, BucketMode.BUCKET_MODE_COPY, mirror_deletions=True)
    await harness.sync(bucket)
    before = await harness.items_of(name)

    changed, gone = objects[3][0], objects[7][0]
    put_objects(name, [(changed, b"rewritten object")])
    delete_objects(name, [gone])
    synced, seen = await harness.sync(bucket, full=True)

    assert seen.read_keys == [changed], "unchanged ETags are not read again"
    assert (synced.counts.listed, synced.counts.stored, synced.counts.deleted) == (19, 1, 2)
    after = await harness.items_of(name)
    assert set(after) == set(before) - {gone}
    assert after[changed]["text"] == "rewritten object"
    db = harness.app.service.platform.db
    deleted = {
        e.item_id: e.item_deleted for e in await stored_events(db) if e.HasField("item_deleted")
    }
    assert set(deleted) == {before[changed]["_id"], before[gone]["_id"]}
    assert deleted[before[gone]["_id"]].reason == f"object deleted: s3://{name}/{gone}"


async def test_a_sync_without_mirroring_keeps_the_items_of_deleted_objects(
    harness: Harness,
) -> None:
    name = bucket_name()
    customer_bucket(harness.endpoint, name)
    objects = texts(0, 5)
    put_objects(name, objects)
    bucket = await harness.register(name, BucketMode.BUCKET_MODE_COPY)
    await harness.sync(bucket)
    delete_objects(name, [objects[0][0]])

    synced, _ = await harness.sync(bucket, full=True)

    assert synced.counts.deleted == 0
    assert set(await harness.items_of(name)) == set(keys(objects))


async def test_referenced_media_stays_in_the_bucket_and_copied_media_is_stored(
    harness: Harness,
) -> None:
    name = bucket_name()
    customer_bucket(harness.endpoint, name)
    cat, dog = png(6, 4), png(5, 3)
    put_objects(name, [("ref/cat.png", cat), ("copy/dog.png", dog)])
    referenced = await harness.register(name, BucketMode.BUCKET_MODE_REFERENCE, prefix="ref/")
    copied = await harness.register(name, BucketMode.BUCKET_MODE_COPY, prefix="copy/")
    await harness.sync(referenced)
    await harness.sync(copied)
    items = await harness.items_of(name)
    ingest = harness.app.ingest

    cat_item = await ingest.get_item(str(items["ref/cat.png"]["_id"]))
    assert (cat_item.media_key, cat_item.media_uri) == ("", f"s3://{name}/ref/cat.png")
    assert (cat_item.bucket_id, cat_item.width, cat_item.height) == (referenced.bucket_id, 6, 4)
    url, _ = await harness.app.buckets.media_link(cat_item)
    async with httpx.AsyncClient() as http:
        answer = await http.get(url)
    assert (answer.status_code, answer.content) == (200, cat)

    dog_item = await ingest.get_item(str(items["copy/dog.png"]["_id"]))
    assert (dog_item.media_uri, dog_item.source_uri) == ("", f"s3://{name}/copy/dog.png")
    assert await ingest.media(dog_item.item_id) == (dog, "image/png")


async def test_notifications_take_in_created_objects_once_and_remove_deleted_ones(
    harness: Harness,
) -> None:
    name = bucket_name()
    customer_bucket(harness.endpoint, name)
    bucket = await harness.register(name, BucketMode.BUCKET_MODE_COPY, mirror_deletions=True)
    put_objects(name, [("new.txt", b"arrived by notification")])
    created = [ObjectEvent(CREATED, "new.txt")]

    (first,) = await harness.app.buckets.notify(bucket.bucket_id, created, DANA)
    (again,) = await harness.app.buckets.notify(bucket.bucket_id, created, DANA)

    assert first.item_id and not first.duplicate and first.error is None
    assert (again.item_id, again.duplicate) == (first.item_id, True)
    delete_objects(name, ["new.txt"])
    (removed,) = await harness.app.buckets.notify(
        bucket.bucket_id, [ObjectEvent(REMOVED, "new.txt")], DANA
    )
    assert (removed.item_id, removed.deleted) == (first.item_id, True)
    assert await harness.items_of(name) == {}
