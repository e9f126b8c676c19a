"""Customers' buckets on the in-process moto S3 server, for bucket sync to read,
and readers that note what a sync listed and read.

Objects are put through moto's backend directly: a hundred thousand go in
seconds, where as many PUT requests would take minutes. Sync still reads them
over HTTP."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from minio import Minio
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.s3.models import S3Backend, s3_backends

from labelmesh.ingest.buckets.ports import BucketReader, BucketReaders
from labelmesh.ingest.buckets.records import ListedObject, StoredBucket

ACCESS_KEY = "customer"
SECRET_KEY = "customer-secret"


def customer_bucket(endpoint: str, name: str) -> Minio:
    """A client of a new bucket `name` on the moto server at `endpoint`."""
    client = Minio(endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False)
    client.make_bucket(name)
    return client


def put_objects(bucket: str, objects: Iterable[tuple[str, bytes]]) -> None:
    """Store (key, content) pairs in a bucket of the in-process moto server."""
    backend = _backend()
    for key, content in objects:
        backend.put_object(bucket, key, content)


def delete_objects(bucket: str, keys: Iterable[str]) -> None:
    backend = _backend()
    for key in keys:
        backend.delete_object(bucket, key)


def _backend() -> S3Backend:
    backend: S3Backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    return backend


@dataclass
class CountingReader:
    """A real bucket reader that notes which keys each call listed and read."""

    reader: BucketReader
    listed: list[str] = field(default_factory=list)
    read_keys: list[str] = field(default_factory=list)

    async def list_after(self, after: str, limit: int) -> list[ListedObject]:
        page = await self.reader.list_after(after, limit)
        self.listed += [o.key for o in page]
        return page

    async def stat(self, key: str) -> ListedObject | None:
        return await self.reader.stat(key)

    async def read(self, key: str) -> bytes:
        self.read_keys.append(key)
        return await self.reader.read(key)

    def presigned_url(self, key: str, expires: timedelta) -> str:
        return self.reader.presigned_url(key, expires)

    def forget(self) -> None:
        self.listed.clear()
        self.read_keys.clear()


@dataclass
class CountingReaders:
    readers: BucketReaders
    counting: dict[str, CountingReader] = field(default_factory=dict)

    def reader(self, stored: StoredBucket) -> CountingReader:
        bucket_id = stored.bucket.bucket_id
        if bucket_id not in self.counting:
            self.counting[bucket_id] = CountingReader(self.readers.reader(stored))
        return self.counting[bucket_id]
