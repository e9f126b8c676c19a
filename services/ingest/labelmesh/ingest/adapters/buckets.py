"""Registered buckets in MongoDB. A registration's settings and its latest sync
are kept apart, so that registering again never overwrites a running sync's
progress and a sync's saves never overwrite new settings."""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document
from labelmesh.ingest.buckets.records import StoredBucket
from labelmesh.ingest.buckets.registration import SETTINGS
from labelmesh.v1.events_pb2 import Actor
from labelmesh.v1.ingest_service_pb2 import Bucket, SyncState

BUCKETS = "ingest_buckets"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
QUEUED, RUNNING = SyncState.SYNC_STATE_QUEUED, SyncState.SYNC_STATE_RUNNING
IDENTITY = (*SETTINGS, "bucket_id", "created_by", "created_at")
SYNC_FIELDS = tuple(f.name for f in Bucket.DESCRIPTOR.fields if f.name not in IDENTITY)
# Running syncs looked at for an expired lease: there are a few per replica.
RUNNING_CHECKED = 100


def _bucket(document: Document) -> Bucket:
    bucket = Bucket()
    bucket.ParseFromString(document["settings"])
    bucket.MergeFromString(document["sync"])
    bucket.state = document["state"]
    return bucket


def _stored(document: Document) -> StoredBucket:
    return StoredBucket(_bucket(document), document["secret"], document["generation"])


def _part(bucket: Bucket, leaving: tuple[str, ...]) -> bytes:
    part = Bucket()
    part.CopyFrom(bucket)
    for name in leaving:
        part.ClearField(name)
    serialized: bytes = part.SerializeToString(deterministic=True)
    return serialized


def _sync_of(bucket: Bucket) -> bytes:
    """The sync's part of the message."""
    return _part(bucket, IDENTITY)


def _settings_of(bucket: Bucket) -> bytes:
    """The registration's part of the message."""
    return _part(bucket, SYNC_FIELDS)


class MongoBucketRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.buckets = db[BUCKETS]

    async def ensure_indexes(self) -> None:
        await self.buckets.create_index([("project_id", ASCENDING), ("created_at", ASCENDING)])
        await self.buckets.create_index([("state", ASCENDING), ("queued_at", ASCENDING)])

    async def register(self, bucket: Bucket, secret_access_key: str) -> tuple[Bucket, bool]:
        settings = Bucket()
        settings.CopyFrom(bucket)
        known = await self.buckets.find_one({"_id": bucket.bucket_id}, {"settings": 1})
        if known is not None:
            # Who registered it first, and when, stay.
            first = Bucket()
            first.ParseFromString(known["settings"])
            settings.created_by = first.created_by
            settings.created_at.CopyFrom(first.created_at)
        document = await self.buckets.find_one_and_update(
            {"_id": bucket.bucket_id},
            {
                "$set": {
                    "settings": _settings_of(settings),
                    "secret": secret_access_key,
                },
                "$setOnInsert": {
                    "project_id": bucket.project_id,
                    "created_at": bucket.created_at.ToDatetime(UTC),
                    "state": int(SyncState.SYNC_STATE_UNSPECIFIED),
                    "queued_at": _EPOCH,
                    "sync": b"",
                    "generation": 0,
                    "worker": "",
                    "lease_until": _EPOCH,
                },
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert document is not None, "an upsert returns the document"
        return _bucket(document), known is None

    async def get(self, bucket_id: str) -> StoredBucket | None:
        document = await self.buckets.find_one({"_id": bucket_id})
        return _stored(document) if document else None

    async def list(self, project_id: str) -> list[Bucket]:
        found = self.buckets.find({"project_id": project_id}).sort("created_at", ASCENDING)
        return [_bucket(d) async for d in found]

    async def queue(
        self, bucket_id: str, full: bool, at: datetime, by: Actor
    ) -> tuple[Bucket, bool] | None:
        document = await self.buckets.find_one({"_id": bucket_id})
        if document is None:
            return None
        if document["state"] in (QUEUED, RUNNING):
            return _bucket(document), False
        sync = Bucket(cursor=_bucket(document).cursor, state=QUEUED, full=full, synced_by=by)
        queued = await self.buckets.find_one_and_update(
            # Only if no other request queued it meanwhile.
            {"_id": bucket_id, "state": document["state"], "queued_at": document["queued_at"]},
            {"$set": {"state": int(QUEUED), "queued_at": at, "sync": _sync_of(sync)}},
            return_document=ReturnDocument.AFTER,
        )
        if queued is None:
            again = await self.buckets.find_one({"_id": bucket_id})
            return (_bucket(again), False) if again else None
        return _bucket(queued), True

    async def waiting(self) -> int:
        return await self.buckets.count_documents({"state": int(QUEUED)})

    async def claim(self, worker: str, now: datetime, lease_until: datetime) -> StoredBucket | None:
        taken = {"$set": {"state": int(RUNNING), "worker": worker, "lease_until": lease_until}}
        document = await self.buckets.find_one_and_update(
            {"state": int(QUEUED)},
            taken,
            sort=[("state", ASCENDING), ("queued_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )
        if document is not None:
            return _stored(document)
        # A lease compared beside the indexed state would scan the collection:
        # the running syncs are read by state alone and their leases checked here.
        running = self.buckets.find({"state": int(RUNNING)}, {"worker": 1, "lease_until": 1})
        async for candidate in running.limit(RUNNING_CHECKED):
            if candidate["lease_until"].replace(tzinfo=UTC) >= now:
                continue
            document = await self.buckets.find_one_and_update(
                {"_id": candidate["_id"], "worker": candidate["worker"], "state": int(RUNNING)},
                taken,
                return_document=ReturnDocument.AFTER,
            )
            if document is not None:
                return _stored(document)
        return None

    async def save(self, bucket: StoredBucket, worker: str, lease_until: datetime) -> bool:
        result = await self.buckets.update_one(
            {"_id": bucket.bucket.bucket_id, "worker": worker, "state": int(RUNNING)},
            {
                "$set": {
                    "state": int(bucket.bucket.state),
                    "sync": _sync_of(bucket.bucket),
                    "generation": bucket.generation,
                    "lease_until": lease_until,
                }
            },
        )
        return result.matched_count == 1
