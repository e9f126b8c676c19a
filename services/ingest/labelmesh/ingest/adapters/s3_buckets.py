"""Customers' buckets read with MinIO's client, its blocking calls in threads."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterator
from datetime import timedelta

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error

from labelmesh.ingest.buckets.ports import BucketUnreadable
from labelmesh.ingest.buckets.records import ListedObject, StoredBucket

# What S3 answers for an object that is not there (HEAD requests carry no body).
MISSING = frozenset({"NoSuchKey", "ResponseNotFound"})
CONNECT_SECONDS = 5.0
READ_SECONDS = 60.0
# Connections kept per bucket: as many as a sync reads objects at once.
CONNECTIONS = 16


class MinioBucketReader:
    def __init__(self, stored: StoredBucket) -> None:
        bucket = stored.bucket
        self.bucket = bucket.bucket
        self.prefix = bucket.prefix
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=CONNECT_SECONDS, read=READ_SECONDS),
            retries=urllib3.Retry(
                total=3, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)
            ),
            maxsize=CONNECTIONS,
        )
        self.client = Minio(
            bucket.endpoint,
            access_key=bucket.access_key_id or None,
            secret_key=stored.secret_access_key or None,
            secure=bucket.secure,
            # Given, so that presigning needs no request for the bucket's location.
            region=bucket.region,
            http_client=http,
        )

    async def list_after(self, after: str, limit: int) -> list[ListedObject]:
        return await asyncio.to_thread(self._list_after, after, limit)

    def _list_after(self, after: str, limit: int) -> list[ListedObject]:
        listing = self.client.list_objects(
            self.bucket, prefix=self.prefix or None, recursive=True, start_after=after or None
        )
        with _unreadable(f"listing s3://{self.bucket}/{self.prefix}"):
            return [
                ListedObject(o.object_name, (o.etag or "").strip('"'), o.size or 0)
                for o in itertools.islice(listing, limit)
                if o.object_name and not o.is_dir
            ]

    async def stat(self, key: str) -> ListedObject | None:
        return await asyncio.to_thread(self._stat, key)

    def _stat(self, key: str) -> ListedObject | None:
        try:
            with _unreadable(f"reading {key!r}"):
                found = self.client.stat_object(self.bucket, key)
        except BucketUnreadable as exc:
            if isinstance(exc.__cause__, S3Error) and exc.__cause__.code in MISSING:
                return None
            raise
        return ListedObject(key, (found.etag or "").strip('"'), found.size or 0)

    async def read(self, key: str) -> bytes:
        return await asyncio.to_thread(self._read, key)

    def _read(self, key: str) -> bytes:
        with _unreadable(f"reading {key!r}"):
            response = self.client.get_object(self.bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

    def presigned_url(self, key: str, expires: timedelta) -> str:
        return self.client.presigned_get_object(self.bucket, key, expires=expires)


class MinioBucketReaders:
    """A reader per registration, made again when its connection settings change."""

    def __init__(self) -> None:
        self._readers: dict[str, tuple[tuple[object, ...], MinioBucketReader]] = {}

    def reader(self, stored: StoredBucket) -> MinioBucketReader:
        b = stored.bucket
        settings = (b.endpoint, b.secure, b.region, b.bucket, b.prefix, b.access_key_id)
        wanted = (*settings, stored.secret_access_key)
        known = self._readers.get(b.bucket_id)
        if known and known[0] == wanted:
            return known[1]
        reader = MinioBucketReader(stored)
        self._readers[b.bucket_id] = (wanted, reader)
        return reader


@contextlib.contextmanager
def _unreadable(doing: str) -> Iterator[None]:
    """Raise what the client raised as BucketUnreadable, saying what was being done."""
    try:
        yield
    except S3Error as error:
        raise BucketUnreadable(f"{doing}: {error.code}: {error.message}") from error
    except (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError) as error:
        raise BucketUnreadable(f"{doing}: {error}") from error
