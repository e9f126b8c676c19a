"""The events an S3 event notification (as MinIO's webhook or AWS's send it)
names. Pure."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from labelmesh.core.errors import InvalidField
from labelmesh.ingest.buckets.notifications import CREATED, REMOVED, ObjectEvent
from labelmesh.v1.ingest_service_pb2 import BucketEventKind

UNKNOWN = BucketEventKind.BUCKET_EVENT_KIND_UNSPECIFIED


def events_of_notification(body: dict[str, Any], bucket_name: str) -> list[ObjectEvent]:
    """Each record's event; a record of another kind (ObjectAccessed) is an event
    of no kind, refused on its own. Keys arrive URL-encoded."""
    records = body.get("Records")
    if not isinstance(records, list):
        raise InvalidField("Records", "an S3 event notification lists its events as Records")
    events = []
    for index, record in enumerate(records):
        at = f"Records[{index}]"
        s3 = record.get("s3") if isinstance(record, dict) else None
        name = record.get("eventName") if isinstance(record, dict) else None
        if not isinstance(s3, dict) or not isinstance(name, str):
            raise InvalidField(at, "needs eventName and s3")
        bucket = (s3.get("bucket") or {}).get("name")
        if bucket != bucket_name:
            raise InvalidField(f"{at}.s3.bucket.name", f"{bucket!r} is not {bucket_name!r}")
        key = (s3.get("object") or {}).get("key")
        if not isinstance(key, str):
            raise InvalidField(f"{at}.s3.object.key", "required")
        events.append(ObjectEvent(_kind(name), unquote_plus(key)))
    return events


def _kind(event_name: str) -> int:
    # "s3:ObjectCreated:Put" from MinIO, "ObjectCreated:Put" from AWS.
    family = event_name.removeprefix("s3:").split(":", 1)[0]
    return {"ObjectCreated": CREATED, "ObjectRemoved": REMOVED}.get(family, UNKNOWN)
