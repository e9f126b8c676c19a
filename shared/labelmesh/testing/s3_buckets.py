"""Customers' buckets on the in-process moto S3 server, for bucket sync to read.

Objects are put through moto's backend directly: a hundred thousand go in
seconds, where as many PUT requests would take minutes. Sync still reads them
over HTTP."""

from __future__ import annotations

from collections.abc import Iterable

from minio import Minio
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.s3.models import S3Backend, s3_backends

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
