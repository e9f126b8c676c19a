"""What the bucket APIs do: register buckets, describe them, queue their syncs,
take in their notifications, and presign reads of the media they keep."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from labelmesh.core.errors import InvalidField, NotFound, RateLimited
from labelmesh.core.projects import ProjectDirectory
from labelmesh.ingest.buckets.notifications import BucketNotifications, EventOutcome, ObjectEvent
from labelmesh.ingest.buckets.ports import BucketReaders, BucketRepository, BucketUnreadable
from labelmesh.ingest.buckets.records import StoredBucket
from labelmesh.ingest.buckets.registration import registration
from labelmesh.ingest.buckets.sync import URL_LIFETIME
from labelmesh.ingest.records import StoredItem
from labelmesh.v1.events_pb2 import Actor
from labelmesh.v1.ingest_service_pb2 import Bucket, RegisterBucketRequest

# Seconds a caller is asked to wait when too many syncs are queued.
RETRY_AFTER_SECONDS = 30


@dataclass(eq=False)
class Buckets:
    repository: BucketRepository
    projects: ProjectDirectory
    readers: BucketReaders
    notifications: BucketNotifications
    check_endpoint: Callable[[Bucket], Awaitable[None]]
    # Syncs queued at once, over all buckets; past it, asking for one is refused.
    max_waiting: int
    # Tells the sync workers of this replica that a sync was queued.
    wake: Callable[[], None] = field(default=lambda: None)

    async def register(
        self, request: RegisterBucketRequest, created_by: str
    ) -> tuple[Bucket, bool]:
        """The bucket as registered, and whether it is new; the endpoint must be
        one ingest may reach."""
        bucket = registration(request, created_by, datetime.now(UTC))
        if await self.projects.get(bucket.project_id) is None:
            raise NotFound("project", bucket.project_id)
        try:
            await self.check_endpoint(bucket)
        except BucketUnreadable as exc:
            raise InvalidField("endpoint", exc.reason.removeprefix("endpoint: ")) from None
        return await self.repository.register(bucket, request.secret_access_key)

    async def stored(self, bucket_id: str) -> StoredBucket:
        stored = await self.repository.get(bucket_id)
        if stored is None:
            raise NotFound("bucket", bucket_id)
        return stored

    async def of_project(self, project_id: str) -> list[Bucket]:
        return await self.repository.list(project_id)

    async def sync(self, bucket_id: str, full: bool, by: Actor) -> tuple[Bucket, bool]:
        """Queue a sync; the bucket, and False when one was queued or running already."""
        if await self.repository.waiting() >= self.max_waiting:
            raise RateLimited(
                f"{self.max_waiting} bucket syncs are waiting for a worker; ask again later",
                RETRY_AFTER_SECONDS,
            )
        queued = await self.repository.queue(bucket_id, full, datetime.now(UTC), by)
        if queued is None:
            raise NotFound("bucket", bucket_id)
        if queued[1]:
            self.wake()
        return queued

    async def notify(
        self, bucket_id: str, events: Sequence[ObjectEvent], by: Actor
    ) -> list[EventOutcome]:
        stored = await self.stored(bucket_id)
        try:
            await self.check_endpoint(stored.bucket)
        except BucketUnreadable as exc:
            raise InvalidField("bucket_id", exc.reason) from None
        return await self.notifications.take_in(stored, events, by)

    async def media_link(self, item: StoredItem) -> tuple[str, datetime]:
        """A presigned URL reading a referenced item's media, and when it expires."""
        stored = await self.stored(item.bucket_id)
        key = item.media_uri.removeprefix(f"s3://{stored.bucket.bucket}/")
        expires_at = datetime.now(UTC) + URL_LIFETIME
        return self.readers.reader(stored).presigned_url(key, URL_LIFETIME), expires_at
