"""What the dataset service stores: the typed records its repositories take and return."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from labelmesh.v1.events_pb2 import DatasetVersion


class ItemStatus(StrEnum):
    """Where an accepted item stands (AcceptedStatus)."""

    ACCEPTED = "accepted"
    IN_REREVIEW = "in_rereview"


class BrowseStatus(StrEnum):
    """Where any item stands, as browsing filters on it."""

    NEW = "new"
    ANNOTATED = "annotated"
    ACCEPTED = "accepted"
    IN_REREVIEW = "in_rereview"
    FLAGGED = "flagged"


@dataclass(frozen=True)
class AnnotationTrace:
    """Who or what made one annotation of an item, and who approved it."""

    annotation_id: str
    annotator: str = ""
    round: int = 0
    reviewers: tuple[str, ...] = ()
    model_id: str = ""
    model_version: str = ""
    rule_version: int = 0
    # The classes of its labels, in the order first met.
    classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Acceptance:
    """An item's final labels, as its last ItemCompleted gave them.

    `labels` are serialized `Label` messages; `source` is a CompletionSource value.
    """

    annotation_id: str
    labels: tuple[bytes, ...]
    source: int
    policy_version: int
    accepted_at: datetime
    event_id: str
    adjudicator: str = ""


@dataclass(frozen=True)
class ProjectedItem:
    """One item of the projection: what ingest said of it, every annotation's
    trace, and its accepted labels once it has them."""

    item_id: str
    project_id: str
    data_type: int = 0
    media_key: str = ""
    sha256: str = ""
    content_type: str = ""
    filename: str = ""
    text: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    # An image's pixel size as ingest read it; 0 and 0 when not known.
    width: int = 0
    height: int = 0
    annotations: dict[str, AnnotationTrace] = field(default_factory=dict)
    acceptance: Acceptance | None = None
    status: ItemStatus | None = None
    flagged_at: datetime | None = None
    # The last adjudication's decider, until the completion it caused takes it.
    adjudicator: str = ""
    # How ingest got the item ("upload", "url", ...) and from where.
    source: str = ""
    source_uri: str = ""
    # When ingest created it: its ItemIngested's occurred_at.
    created_at: datetime | None = None
    # Media kept in a customer's bucket ("s3://bucket/key"), for an item
    # synced by reference.
    media_uri: str = ""
    # When ingest deleted it (ItemDeleted), unless it came in again after.
    # Kept as a tombstone: later events of the item do not bring it back.
    deleted_at: datetime | None = None
    # Its place in its project's browsing order: 1 for the first item the
    # projection heard of, and so on; 0 until the projection stores it.
    seq: int = 0


@dataclass(frozen=True)
class ItemSummary:
    """An item as browsing lists it, from what the projection keeps for it on write."""

    item_id: str
    seq: int
    data_type: int
    filename: str
    # The text's first characters only.
    text: str
    metadata: dict[str, str]
    source: str
    source_uri: str
    status: BrowseStatus
    classes: tuple[str, ...]
    annotators: tuple[str, ...]
    created_at: datetime | None
    width: int
    height: int
    facets: frozenset[str]


@dataclass(frozen=True)
class StoredVersion:
    """A dataset version, and where its manifest is kept: `chunks` chunks of
    serialized DatasetItem messages under `manifest_id`, in item id order."""

    version: DatasetVersion
    manifest_id: str
    chunks: int


@dataclass(frozen=True)
class ManifestChunk:
    """One chunk of a manifest, in item id order: each item as a serialized
    DatasetItem message, and as its canonical JSONL line, kept so that a JSONL
    export copies what the version made once."""

    manifest_id: str
    index: int
    items: tuple[bytes, ...]
    lines: tuple[bytes, ...]
