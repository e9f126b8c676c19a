"""The contracts of registered buckets and of their objects' records, against
the in-memory twins and SecantusDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.envelopes import user_actor
from labelmesh.core.mongo import Document
from labelmesh.ingest.adapters.bucket_objects import MongoObjectRecords
from labelmesh.ingest.adapters.buckets import MongoBucketRepository
from labelmesh.ingest.buckets.ports import BucketRepository, ObjectRecords
from labelmesh.ingest.buckets.records import ObjectRecord
from labelmesh.ingest.buckets.registration import registration
from labelmesh.testing.backends import Backend
from labelmesh.testing.memory import MemoryState
from labelmesh.testing.twins.ingest import InMemoryBucketRepository, InMemoryObjectRecords
from labelmesh.v1.ingest_service_pb2 import (
    Bucket,
    BucketMode,
    RegisterBucketRequest,
    SyncState,
)

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DANA = user_actor("dana")
QUEUED, RUNNING = SyncState.SYNC_STATE_QUEUED, SyncState.SYNC_STATE_RUNNING


async def buckets_of(backend: Backend) -> BucketRepository:
    def twin(state: MemoryState) -> BucketRepository:
        return InMemoryBucketRepository(state)

    def mongo(db: AsyncDatabase[Document]) -> BucketRepository:
        return MongoBucketRepository(db)

    repository = backend.pick(twin, mongo)
    if isinstance(repository, MongoBucketRepository):
        await repository.ensure_indexes()
    return repository


async def records_of(backend: Backend) -> ObjectRecords:
    def twin(state: MemoryState) -> ObjectRecords:
        return InMemoryObjectRecords(state)

    def mongo(db: AsyncDatabase[Document]) -> ObjectRecords:
        return MongoObjectRecords(db)

    records = backend.pick(twin, mongo)
    if isinstance(records, MongoObjectRecords):
        await records.ensure_indexes()
    return records


def bucket(name: str, project: str = "p1", at: datetime = AT, by: str = "dana") -> Bucket:
    request = RegisterBucketRequest(
        project_id=project,
        endpoint="minio.internal:9000",
        bucket=name,
        mode=BucketMode.BUCKET_MODE_REFERENCE,
        access_key_id="key",
        secret_access_key="secret",
    )
    return registration(request, by, at)


async def running(repository: BucketRepository, name: str, worker: str = "w1") -> Bucket:
    """A registered bucket whose sync `worker` claimed, with a lease of an hour."""
    registered, _ = await repository.register(bucket(name), "secret")
    await repository.queue(registered.bucket_id, False, AT, DANA)
    claimed = await repository.claim(worker, AT, AT + timedelta(hours=1))
    assert claimed is not None and claimed.bucket.bucket_id == registered.bucket_id
    return claimed.bucket


async def test_registering_again_updates_the_settings_and_keeps_who_registered_and_the_sync(
    backend: Backend,
) -> None:
    buckets = await buckets_of(backend)
    first, new = await buckets.register(bucket("photos"), "secret")
    assert new and first.created_by == "dana" and first.state == SyncState.SYNC_STATE_UNSPECIFIED
    await buckets.queue(first.bucket_id, False, AT, DANA)
    claimed = await buckets.claim("w1", AT, AT + timedelta(hours=1))
    assert claimed is not None
    claimed.bucket.cursor = "cats/0999.png"
    claimed.bucket.counts.stored = 1000
    claimed.generation = 2
    assert await buckets.save(claimed, "w1", AT + timedelta(hours=1))

    again = bucket("photos", at=AT + timedelta(days=1), by="kim")
    again.mirror_deletions = True
    kept, new = await buckets.register(again, "rotated")

    assert not new
    assert (kept.created_by, kept.created_at.ToDatetime(UTC)) == ("dana", AT)
    assert kept.mirror_deletions and kept.state == RUNNING
    assert (kept.cursor, kept.counts.stored) == ("cats/0999.png", 1000)
    stored = await buckets.get(first.bucket_id)
    assert stored is not None
    assert (stored.secret_access_key, stored.generation) == ("rotated", 2)
    assert stored.bucket == kept


async def test_buckets_are_listed_by_project_oldest_first(backend: Backend) -> None:
    buckets = await buckets_of(backend)
    later, _ = await buckets.register(bucket("later", at=AT + timedelta(hours=1)), "s")
    earlier, _ = await buckets.register(bucket("earlier"), "s")
    await buckets.register(bucket("elsewhere", project="p2"), "s")

    assert [b.bucket_id for b in await buckets.list("p1")] == [earlier.bucket_id, later.bucket_id]
    assert await buckets.list("p3") == []
    assert await buckets.get("bkt_unknown") is None


async def test_a_sync_is_queued_once_and_keeps_the_cursor(backend: Backend) -> None:
    buckets = await buckets_of(backend)
    synced = await running(buckets, "photos")
    synced.cursor = "k9"
    synced.counts.listed = 10
    synced.state = SyncState.SYNC_STATE_SUCCEEDED
    stored = await buckets.get(synced.bucket_id)
    assert stored is not None
    stored.bucket.CopyFrom(synced)
    assert await buckets.save(stored, "w1", AT)

    queued = await buckets.queue(synced.bucket_id, True, AT, DANA)
    again = await buckets.queue(synced.bucket_id, False, AT, user_actor("kim"))

    assert queued is not None and queued[1]
    assert (queued[0].state, queued[0].cursor, queued[0].full) == (QUEUED, "k9", True)
    assert queued[0].counts.listed == 0, "a new sync counts from nothing"
    assert queued[0].synced_by == DANA
    assert again is not None and not again[1]
    assert again[0].synced_by == DANA and again[0].full
    assert await buckets.waiting() == 1
    assert await buckets.queue("bkt_unknown", False, AT, DANA) is None


async def test_the_longest_waiting_sync_is_claimed_first_and_then_none(backend: Backend) -> None:
    buckets = await buckets_of(backend)
    late, _ = await buckets.register(bucket("late"), "s")
    early, _ = await buckets.register(bucket("early"), "s")
    await buckets.queue(late.bucket_id, False, AT + timedelta(seconds=5), DANA)
    await buckets.queue(early.bucket_id, False, AT, DANA)
    lease = AT + timedelta(minutes=5)

    first = await buckets.claim("w1", AT, lease)
    second = await buckets.claim("w2", AT, lease)

    assert first is not None and second is not None
    assert (first.bucket.bucket_id, second.bucket.bucket_id) == (early.bucket_id, late.bucket_id)
    assert first.bucket.state == RUNNING and first.secret_access_key == "s"
    assert await buckets.claim("w3", AT, lease) is None
    assert await buckets.waiting() == 0


async def test_a_sync_whose_lease_ran_out_is_taken_over_and_its_first_worker_stops(
    backend: Backend,
) -> None:
    buckets = await buckets_of(backend)
    synced = await running(buckets, "photos")

    assert await buckets.claim("w2", AT + timedelta(minutes=59), AT + timedelta(hours=2)) is None
    taken = await buckets.claim("w2", AT + timedelta(hours=2), AT + timedelta(hours=3))

    assert taken is not None and taken.bucket.bucket_id == synced.bucket_id
    stale = await buckets.get(synced.bucket_id)
    assert stale is not None
    assert not await buckets.save(stale, "w1", AT + timedelta(hours=3))
    taken.bucket.cursor = "k1"
    assert await buckets.save(taken, "w2", AT + timedelta(hours=4))
    after = await buckets.get(synced.bucket_id)
    assert after is not None and after.bucket.cursor == "k1"


async def test_a_finished_sync_is_saved_once_and_not_claimed_again(backend: Backend) -> None:
    buckets = await buckets_of(backend)
    synced = await running(buckets, "photos")
    stored = await buckets.get(synced.bucket_id)
    assert stored is not None
    stored.bucket.state = SyncState.SYNC_STATE_SUCCEEDED
    stored.bucket.counts.read = 7

    assert await buckets.save(stored, "w1", AT)
    assert not await buckets.save(stored, "w1", AT), "a saved end leaves nothing to renew"
    assert await buckets.claim("w2", AT + timedelta(days=1), AT + timedelta(days=2)) is None
    after = await buckets.get(synced.bucket_id)
    assert after is not None
    assert (after.bucket.state, after.bucket.counts.read) == (SyncState.SYNC_STATE_SUCCEEDED, 7)


async def test_object_records_are_found_and_replaced_per_bucket(backend: Backend) -> None:
    records = await records_of(backend)
    await records.put("b1", [ObjectRecord("a.png", "e1", "i1"), ObjectRecord("b.png", "e2", "i2")])
    await records.put("b2", [ObjectRecord("a.png", "e9", "i9")])
    await records.put("b1", [ObjectRecord("a.png", "e3", "i3", scan=4)])
    await records.put("b1", [])

    found = await records.find("b1", ["a.png", "b.png", "c.png"])

    assert found == {
        "a.png": ObjectRecord("a.png", "e3", "i3", scan=4),
        "b.png": ObjectRecord("b.png", "e2", "i2"),
    }
    assert await records.find("b2", ["a.png"]) == {"a.png": ObjectRecord("a.png", "e9", "i9")}
    assert await records.find("b1", []) == {}


async def test_records_a_listing_did_not_see_are_found_by_their_scan(backend: Backend) -> None:
    records = await records_of(backend)
    await records.put("b1", [ObjectRecord(f"k{i}", "e", f"i{i}", scan=1) for i in range(5)])
    await records.put("b2", [ObjectRecord("k0", "e", "x", scan=1)])

    await records.mark_scanned("b1", ["k0", "k2", "missing"], 2)
    await records.mark_scanned("b1", [], 2)

    unseen = await records.unseen("b1", 1, 10)
    assert sorted(r.key for r in unseen) == ["k1", "k3", "k4"]
    assert len(await records.unseen("b1", 1, 2)) == 2
    assert sorted(r.key for r in await records.unseen("b1", 2, 10)) == ["k0", "k2"]
    assert await records.find("b1", ["missing"]) == {}
    await records.remove("b1", ["k1", "k3", "k4"])
    assert await records.unseen("b1", 1, 10) == []
    assert [r.key for r in await records.unseen("b2", 1, 10)] == ["k0"]


async def test_the_objects_an_item_is_recorded_as_are_its_owners(backend: Backend) -> None:
    records = await records_of(backend)
    await records.put("b1", [ObjectRecord("a.png", "e", "i1"), ObjectRecord("copy.png", "e", "i1")])
    await records.put("b2", [ObjectRecord("a.png", "e", "i1"), ObjectRecord("b.png", "e", "i2")])

    owners = await records.owners(["i1", "i2", "i3"])

    assert owners == {"i1": {"b1/a.png", "b1/copy.png", "b2/a.png"}, "i2": {"b2/b.png"}}
    assert await records.owners([]) == {}
