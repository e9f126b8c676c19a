"""The ports of bucket sync: the registrations, the objects' records, and the
customer's bucket itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from labelmesh.ingest.buckets.records import ListedObject, ObjectRecord, StoredBucket
from labelmesh.v1.events_pb2 import Actor
from labelmesh.v1.ingest_service_pb2 import Bucket


class BucketUnreadable(Exception):
    """The bucket or an object could not be read: `reason` says why, for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BucketRepository(Protocol):
    """Registered buckets. A sync is a job on its bucket, claimed by one worker
    at a time under a lease the worker renews with each save."""

    async def register(self, bucket: Bucket, secret_access_key: str) -> tuple[Bucket, bool]:
        """Store the registration's settings, keeping its sync; the bucket as
        stored, and whether it is new."""
        ...

    async def get(self, bucket_id: str) -> StoredBucket | None: ...

    async def list(self, project_id: str) -> list[Bucket]:
        """The project's buckets, oldest first."""
        ...

    async def queue(
        self, bucket_id: str, full: bool, at: datetime, by: Actor
    ) -> tuple[Bucket, bool] | None:
        """Queue a sync unless one is queued or running; the bucket and whether
        this call queued it; None for an unknown bucket."""
        ...

    async def waiting(self) -> int:
        """Syncs queued and not yet claimed."""
        ...

    async def claim(self, worker: str, now: datetime, lease_until: datetime) -> StoredBucket | None:
        """Take the longest-waiting queued sync, or a running one whose lease ran out."""
        ...

    async def save(self, bucket: StoredBucket, worker: str, lease_until: datetime) -> bool:
        """Store the claimed sync's progress and renew its lease; False when
        another worker holds it now."""
        ...


class ObjectRecords(Protocol):
    """What syncs took in of each object of each bucket."""

    async def find(self, bucket_id: str, keys: Sequence[str]) -> dict[str, ObjectRecord]:
        """The records of these keys that exist, by key."""
        ...

    async def put(self, bucket_id: str, records: Sequence[ObjectRecord]) -> None: ...

    async def mark_scanned(self, bucket_id: str, keys: Sequence[str], scan: int) -> None:
        """Note that a full listing saw these keys."""
        ...

    async def unseen(self, bucket_id: str, scan: int, limit: int) -> list[ObjectRecord]:
        """Records whose scan is `scan`: neither written nor seen by a listing since."""
        ...

    async def remove(self, bucket_id: str, keys: Sequence[str]) -> None: ...

    async def owners(self, item_ids: Sequence[str]) -> dict[str, set[str]]:
        """For each of the items some object is recorded as, those objects as
        "<bucket id>/<key>"."""
        ...


class BucketReader(Protocol):
    """One registered bucket, read with its credentials."""

    async def list_after(self, after: str, limit: int) -> list[ListedObject]:
        """Up to `limit` objects under the prefix whose keys sort after `after`,
        in key order; raises BucketUnreadable."""
        ...

    async def stat(self, key: str) -> ListedObject | None:
        """The object as a listing gives it; None when there is none."""
        ...

    async def read(self, key: str) -> bytes:
        """An object's bytes; raises BucketUnreadable."""
        ...

    def presigned_url(self, key: str, expires: timedelta) -> str:
        """A URL that reads the object without credentials for `expires`."""
        ...


class BucketReaders(Protocol):
    def reader(self, stored: StoredBucket) -> BucketReader: ...
