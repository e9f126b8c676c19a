"""Bucket sync's rules on the in-memory twins, with a bucket held in a dict:
what is read again, what is recorded, and which items a deletion takes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from labelmesh.core.envelopes import user_actor
from labelmesh.ingest.buckets.ports import BucketUnreadable
from labelmesh.ingest.buckets.records import ListedObject, StoredBucket
from labelmesh.ingest.buckets.sync import UNSUPPORTED, BucketSync, ObjectIntake
from labelmesh.testing.memory import InMemoryUnitOfWork, MemoryState
from labelmesh.testing.twins.ingest import (
    InMemoryItemRepository,
    InMemoryObjectRecords,
    memory_ingest,
)
from labelmesh.v1.ingest_service_pb2 import Bucket, BucketMode, SyncState

MAX_ITEM_BYTES = 64


@dataclass
class DictBucket:
    """A bucket in memory; `broken` keys cannot be read."""

    objects: dict[str, bytes] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)
    reads: list[str] = field(default_factory=list)

    async def list_after(self, after: str, limit: int) -> list[ListedObject]:
        keys = sorted(k for k in self.objects if k > after)[:limit]
        return [self._listed(k) for k in keys]

    async def stat(self, key: str) -> ListedObject | None:
        return self._listed(key) if key in self.objects else None

    async def read(self, key: str) -> bytes:
        self.reads.append(key)
        if key in self.broken:
            raise BucketUnreadable(f"reading {key!r}: connection reset")
        return self.objects[key]

    def presigned_url(self, key: str, expires: timedelta) -> str:
        return f"https://s3.example/photos/{key}?expires={int(expires.total_seconds())}"

    def reader(self, stored: StoredBucket) -> DictBucket:
        return self

    def _listed(self, key: str) -> ListedObject:
        content = self.objects[key]
        return ListedObject(key, hashlib.md5(content).hexdigest(), len(content))


@dataclass
class World:
    bucket: DictBucket
    sync: BucketSync
    stored: StoredBucket
    uow: InMemoryUnitOfWork
    items: InMemoryItemRepository

    async def run(self, full: bool = False) -> Bucket:
        """One sync to its end; the bucket after it."""
        self.bucket.reads.clear()
        bucket = self.stored.bucket
        bucket.counts.Clear()
        del bucket.failures[:]
        bucket.full = full
        bucket.state = SyncState.SYNC_STATE_RUNNING

        async def save() -> None:
            return None

        await self.sync.run(self.stored, save)
        bucket.state = SyncState.SYNC_STATE_SUCCEEDED
        return bucket

    def deleted(self) -> list[str]:
        return [e.item_id for e in self.uow.emitted("item_deleted")]


async def noop(bucket: Bucket) -> None:
    return None


async def world(tmp_path: Path, mirror_deletions: bool) -> World:
    state = MemoryState()
    ingest = await memory_ingest(tmp_path / "media", MAX_ITEM_BYTES, state)
    assert isinstance(ingest.uow, InMemoryUnitOfWork)
    assert isinstance(ingest.items, InMemoryItemRepository)
    bucket = DictBucket()
    intake = ObjectIntake(ingest, InMemoryObjectRecords(state), bucket, max_batch_bytes=1 << 20)
    registered = Bucket(
        bucket_id="bkt_1",
        project_id="p1",
        bucket="photos",
        mode=BucketMode.BUCKET_MODE_COPY,
        mirror_deletions=mirror_deletions,
        synced_by=user_actor("dana"),
    )
    return World(
        bucket, BucketSync(intake, noop), StoredBucket(registered), ingest.uow, ingest.items
    )


@pytest.fixture
async def mirrored(tmp_path: Path) -> World:
    return await world(tmp_path, mirror_deletions=True)


async def test_objects_that_fail_are_recorded_and_unreadable_ones_are_read_again(
    mirrored: World,
) -> None:
    mirrored.bucket.objects.update(
        {"big.txt": b"x" * (MAX_ITEM_BYTES + 1), "bin": b"\x00\x01\x02", "flaky.txt": b"flaky"}
    )
    mirrored.bucket.broken.add("flaky.txt")

    first = await mirrored.run()

    assert sorted(mirrored.bucket.reads) == ["bin", "flaky.txt"], "too large is refused unread"
    assert (first.counts.listed, first.counts.read, first.counts.failed) == (3, 1, 3)
    reasons = {f.key: f.reason for f in first.failures}
    assert reasons["bin"] == UNSUPPORTED
    assert "exceeds" in reasons["big.txt"] and "connection reset" in reasons["flaky.txt"]

    mirrored.bucket.broken.clear()
    again = await mirrored.run(full=True)

    assert mirrored.bucket.reads == ["flaky.txt"], "only the unreadable object is read again"
    assert (again.counts.read, again.counts.stored, again.counts.failed) == (1, 1, 0)


async def test_one_content_under_two_keys_is_one_item_until_both_objects_are_gone(
    mirrored: World,
) -> None:
    mirrored.bucket.objects.update({"a.txt": b"same words", "b.txt": b"same words"})
    first = await mirrored.run()
    assert (first.counts.stored, first.counts.duplicates) == (1, 1)
    (item_id,) = {i.item_id for i in mirrored.items.items.values()}

    del mirrored.bucket.objects["a.txt"]
    await mirrored.run(full=True)
    assert mirrored.deleted() == [] and await mirrored.items.get(item_id) is not None

    del mirrored.bucket.objects["b.txt"]
    last = await mirrored.run(full=True)
    assert (last.counts.deleted, mirrored.deleted()) == (1, [item_id])
    assert await mirrored.items.get(item_id) is None


async def test_an_overwritten_object_replaces_its_item_and_a_sync_after_finds_it_deleted(
    mirrored: World,
) -> None:
    mirrored.bucket.objects.update({"a.txt": b"first words", "b.txt": b"other words"})
    await mirrored.run()
    (old,) = [i.item_id for i in mirrored.items.items.values() if i.text == "first words"]

    mirrored.bucket.objects["a.txt"] = b"second words"
    rewritten = await mirrored.run(full=True)
    assert (rewritten.counts.read, rewritten.counts.stored, rewritten.counts.deleted) == (1, 1, 1)
    assert mirrored.deleted() == [old]

    del mirrored.bucket.objects["b.txt"]
    pruned = await mirrored.run(full=True)
    assert pruned.counts.deleted == 1, "records written by the full sync before count as seen"
    assert {i.text for i in mirrored.items.items.values()} == {"second words"}


async def test_without_mirroring_deleted_objects_keep_their_items(tmp_path: Path) -> None:
    kept = await world(tmp_path, mirror_deletions=False)
    kept.bucket.objects.update({"a.txt": b"some words"})
    await kept.run()
    kept.bucket.objects.clear()

    after = await kept.run(full=True)

    assert (after.counts.deleted, kept.deleted()) == (0, [])
    assert len(kept.items.items) == 1
