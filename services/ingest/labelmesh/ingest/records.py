"""What the ingest service stores: the typed records its repositories take and return."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from labelmesh.v1.events_pb2 import DataType


@dataclass(frozen=True)
class StoredItem:
    """One item as kept: its identity, where its media lives and what it is.

    Short text is kept here (`text`) instead of in the object store; its
    `media_key` is then empty.
    """

    item_id: str
    project_id: str
    data_type: DataType
    content_type: str
    sha256: str
    size_bytes: int
    media_key: str
    created_at: datetime
    filename: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    text: str = ""
    # An image's pixel size, 0 and 0 when unknown.
    width: int = 0
    height: int = 0
    # How it came in ("upload", "url", "manifest", or a tool's name) and from where.
    source: str = "upload"
    source_uri: str = ""
    # Media that stays in a registered bucket ("s3://bucket/key"; `media_key` is
    # then empty), and that bucket, whose credentials presign reads of it.
    media_uri: str = ""
    bucket_id: str = ""
