"""What bucket sync keeps: registrations with their latest sync, and what it
took in of each object."""

from __future__ import annotations

from dataclasses import dataclass

from labelmesh.v1.ingest_service_pb2 import Bucket


@dataclass
class StoredBucket:
    """A registration as kept: the message the APIs show, and what they never show."""

    bucket: Bucket
    secret_access_key: str = ""
    # Full listings completed. Records carry this number; a full listing under
    # way marks those it sees with the next, so those it did not see are found
    # by equality.
    generation: int = 0


@dataclass(frozen=True)
class ObjectRecord:
    """What a sync took in of one object: its ETag then, and the item it became
    or why it became none."""

    key: str
    etag: str
    item_id: str = ""
    error: str = ""
    scan: int = 0


@dataclass(frozen=True)
class ListedObject:
    """An object as a bucket's listing gives it."""

    key: str
    etag: str
    size: int
