"""In-memory twins of the ingest service's repositories: items, registered
buckets and the records of their objects."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry

from labelmesh.core.access import ProjectGate, directory_organizations
from labelmesh.core.errors import Conflict
from labelmesh.core.storage import LocalDiskStore
from labelmesh.core.uow import Transaction
from labelmesh.ingest.adapters.buckets import SYNC_FIELDS
from labelmesh.ingest.adapters.fetcher import HttpFetcher
from labelmesh.ingest.adapters.s3_buckets import MinioBucketReaders
from labelmesh.ingest.addresses import AddressPolicy
from labelmesh.ingest.buckets.endpoints import EndpointCheck
from labelmesh.ingest.buckets.notifications import BucketNotifications
from labelmesh.ingest.buckets.records import ObjectRecord, StoredBucket
from labelmesh.ingest.buckets.registry import Buckets
from labelmesh.ingest.buckets.sync import ObjectIntake
from labelmesh.ingest.manifest_import import ManifestImport
from labelmesh.ingest.metrics import IngestMetrics
from labelmesh.ingest.records import StoredItem
from labelmesh.ingest.secured import SecuredIngest
from labelmesh.ingest.url_import import UrlImport
from labelmesh.ingest.usecases import Ingest
from labelmesh.testing.memory import InMemoryProjectDirectory, InMemoryUnitOfWork, MemoryState
from labelmesh.v1.events_pb2 import Actor, ProjectSpec
from labelmesh.v1.ingest_service_pb2 import Bucket, SyncState

QUEUED, RUNNING = SyncState.SYNC_STATE_QUEUED, SyncState.SYNC_STATE_RUNNING


async def memory_ingest(media: Path, max_item_bytes: int, state: MemoryState) -> Ingest:
    """The ingest use cases on in-memory twins and media on local disk under
    `media`, with one project, "p1", of one class."""
    uow = InMemoryUnitOfWork(state)
    projects = InMemoryProjectDirectory(state)
    async with uow.begin() as tx:
        await projects.save(tx, ProjectSpec(project_id="p1", classes=["a"]))
    store = LocalDiskStore(media)
    await store.ensure_ready()
    metrics = IngestMetrics(CollectorRegistry())
    items = InMemoryItemRepository(state)
    return Ingest(items, projects, store, uow, metrics, max_item_bytes=max_item_bytes)


def secured_ingest(ingest: Ingest, policy: AddressPolicy | None = None) -> SecuredIngest:
    """The ingest use cases behind the project gate, URL imports fetching for real
    within `policy` (public addresses only by default)."""
    fetcher = HttpFetcher(
        policy or AddressPolicy(),
        max_bytes=ingest.max_item_bytes,
        connect_timeout=5,
        total_timeout=10,
    )
    urls = UrlImport(ingest, fetcher, ingest.metrics, concurrency=4, max_batch_bytes=1 << 30)
    manifests = ManifestImport(ingest, urls, ingest.store)
    gate = ProjectGate(directory_organizations(ingest.projects.get))
    return SecuredIngest(ingest, gate, urls, manifests, memory_buckets(ingest, policy))


def memory_buckets(ingest: Ingest, policy: AddressPolicy | None = None) -> Buckets:
    """Bucket registrations and object records in memory, buckets read for real."""
    state = MemoryState()
    readers = MinioBucketReaders()
    intake = ObjectIntake(ingest, InMemoryObjectRecords(state), readers, 1 << 30)
    check = EndpointCheck(policy or AddressPolicy()).check
    return Buckets(
        InMemoryBucketRepository(state),
        ingest.projects,
        readers,
        BucketNotifications(intake),
        check,
        max_waiting=100,
    )


class InMemoryItemRepository:
    def __init__(self, state: MemoryState) -> None:
        self.items: dict[str, StoredItem] = state.table("ingest.items")

    async def ids_by_hash(self, project_id: str, hashes: Sequence[str]) -> dict[str, str]:
        wanted = set(hashes)
        return {
            i.sha256: i.item_id
            for i in self.items.values()
            if i.project_id == project_id and i.sha256 in wanted
        }

    async def insert(self, tx: Transaction, items: Sequence[StoredItem]) -> None:
        taken = {(i.project_id, i.sha256) for i in self.items.values()}
        for item in items:
            key = (item.project_id, item.sha256)
            if item.item_id in self.items or key in taken:
                raise Conflict("identical content was uploaded concurrently; retry")
            taken.add(key)
            self.items[item.item_id] = item

    async def get(self, item_id: str) -> StoredItem | None:
        return self.items.get(item_id)

    async def get_many(self, item_ids: Sequence[str]) -> list[StoredItem]:
        return [self.items[i] for i in set(item_ids) if i in self.items]

    async def delete(self, tx: Transaction, item_ids: Sequence[str]) -> None:
        for item_id in item_ids:
            self.items.pop(item_id, None)


@dataclasses.dataclass
class _Registration:
    stored: StoredBucket
    queued_at: datetime | None = None
    worker: str = ""
    lease_until: datetime | None = None


class InMemoryBucketRepository:
    def __init__(self, state: MemoryState) -> None:
        self.buckets: dict[str, _Registration] = state.table("ingest.buckets")

    async def register(self, bucket: Bucket, secret_access_key: str) -> tuple[Bucket, bool]:
        known = self.buckets.get(bucket.bucket_id)
        if known is None:
            self.buckets[bucket.bucket_id] = _Registration(
                StoredBucket(_copy(bucket), secret_access_key)
            )
            return _copy(bucket), True
        kept = known.stored.bucket
        settings = _copy(bucket)
        settings.created_by = kept.created_by
        settings.created_at.CopyFrom(kept.created_at)
        for name in SYNC_FIELDS:
            _copy_field(kept, settings, name)
        known.stored = StoredBucket(settings, secret_access_key, known.stored.generation)
        return _copy(settings), False

    async def get(self, bucket_id: str) -> StoredBucket | None:
        known = self.buckets.get(bucket_id)
        if known is None:
            return None
        stored = known.stored
        return StoredBucket(_copy(stored.bucket), stored.secret_access_key, stored.generation)

    async def list(self, project_id: str) -> list[Bucket]:
        found = [
            r.stored.bucket
            for r in self.buckets.values()
            if r.stored.bucket.project_id == project_id
        ]
        return [_copy(b) for b in sorted(found, key=lambda b: b.created_at.ToDatetime())]

    async def queue(
        self, bucket_id: str, full: bool, at: datetime, by: Actor
    ) -> tuple[Bucket, bool] | None:
        known = self.buckets.get(bucket_id)
        if known is None:
            return None
        bucket = known.stored.bucket
        if bucket.state in (QUEUED, RUNNING):
            return _copy(bucket), False
        for name in SYNC_FIELDS:
            if name != "cursor":
                bucket.ClearField(name)
        bucket.state = QUEUED
        bucket.full = full
        bucket.synced_by.CopyFrom(by)
        known.queued_at = at
        return _copy(bucket), True

    async def waiting(self) -> int:
        return sum(1 for r in self.buckets.values() if r.stored.bucket.state == QUEUED)

    async def claim(self, worker: str, now: datetime, lease_until: datetime) -> StoredBucket | None:
        queued = [r for r in self.buckets.values() if r.stored.bucket.state == QUEUED]
        expired = [
            r
            for r in self.buckets.values()
            if r.stored.bucket.state == RUNNING
            and r.lease_until is not None
            and r.lease_until < now
        ]
        queued.sort(key=lambda r: r.queued_at or now)
        for registration in queued + expired:
            registration.stored.bucket.state = RUNNING
            registration.worker = worker
            registration.lease_until = lease_until
            return await self.get(registration.stored.bucket.bucket_id)
        return None

    async def save(self, bucket: StoredBucket, worker: str, lease_until: datetime) -> bool:
        known = self.buckets.get(bucket.bucket.bucket_id)
        if known is None or known.worker != worker or known.stored.bucket.state != RUNNING:
            return False
        kept = known.stored.bucket
        for name in SYNC_FIELDS:
            kept.ClearField(name)
            _copy_field(bucket.bucket, kept, name)
        known.stored.generation = bucket.generation
        known.lease_until = lease_until
        return True


class InMemoryObjectRecords:
    def __init__(self, state: MemoryState) -> None:
        self.records: dict[tuple[str, str], ObjectRecord] = state.table("ingest.bucket_objects")

    async def find(self, bucket_id: str, keys: Sequence[str]) -> dict[str, ObjectRecord]:
        return {k: self.records[(bucket_id, k)] for k in keys if (bucket_id, k) in self.records}

    async def put(self, bucket_id: str, records: Sequence[ObjectRecord]) -> None:
        for record in records:
            self.records[(bucket_id, record.key)] = record

    async def mark_scanned(self, bucket_id: str, keys: Sequence[str], scan: int) -> None:
        for key in keys:
            if (bucket_id, key) in self.records:
                record = self.records[(bucket_id, key)]
                self.records[(bucket_id, key)] = dataclasses.replace(record, scan=scan)

    async def unseen(self, bucket_id: str, scan: int, limit: int) -> list[ObjectRecord]:
        found = [r for (b, _), r in self.records.items() if b == bucket_id and r.scan == scan]
        return found[:limit]

    async def remove(self, bucket_id: str, keys: Sequence[str]) -> None:
        for key in keys:
            self.records.pop((bucket_id, key), None)

    async def owners(self, item_ids: Sequence[str]) -> dict[str, set[str]]:
        wanted = set(item_ids)
        owners: dict[str, set[str]] = {}
        for (bucket_id, key), record in self.records.items():
            if record.item_id in wanted:
                owners.setdefault(record.item_id, set()).add(f"{bucket_id}/{key}")
        return owners


def _copy(bucket: Bucket) -> Bucket:
    copied = Bucket()
    copied.CopyFrom(bucket)
    return copied


def _copy_field(source: Bucket, target: Bucket, name: str) -> None:
    field = Bucket.DESCRIPTOR.fields_by_name[name]
    if field.is_repeated:
        getattr(target, name).extend(getattr(source, name))
    elif field.message_type is not None:
        if source.HasField(name):
            getattr(target, name).CopyFrom(getattr(source, name))
    else:
        setattr(target, name, getattr(source, name))
