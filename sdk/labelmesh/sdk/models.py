"""Typed results. Each mirrors a message of the REST API's proto-JSON; fields
the SDK does not name yet stay reachable through `model_extra`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from labelmesh.sdk.errors import FieldViolation

# A label is one of several geometries (geometry.proto's `Label`); it is kept
# as its proto-JSON, e.g. {"classification": {"class_name": "cat"}, "confidence": 1}.
Label = dict[str, Any]
T = TypeVar("T")


class Result(BaseModel):
    """Base of every result: unknown fields are kept, names are the protos'."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class Project(Result):
    project_id: str
    name: str = ""
    data_type: str = ""
    classes: list[str] = Field(default_factory=list)
    auto_accept_threshold: float = 0.0
    review_min_agreement: float = 0.0
    organization_id: str = ""


class Item(Result):
    """An item as ingest keeps it (the API's GetItemResponse, flattened)."""

    item_id: str
    project_id: str
    created_at: datetime | None = None
    data_type: str = ""
    media_key: str = ""
    content_sha256: str = ""
    size_bytes: int = 0
    content_type: str = ""
    filename: str = ""
    text: str = ""
    metadata: dict[str, str] = Field(default_factory=dict)
    width: int = 0
    height: int = 0
    source: str = ""
    source_uri: str = ""

    @classmethod
    def of(cls, body: dict[str, Any]) -> Item:
        return cls(**body.get("item", {}), **{k: v for k, v in body.items() if k != "item"})


class BrowsedItem(Result):
    """An item in a project's item list, with where it stands."""

    item_id: str
    data_type: str = ""
    filename: str = ""
    text: str = ""
    metadata: dict[str, str] = Field(default_factory=dict)
    source: str = ""
    source_uri: str = ""
    status: str = ""
    classes: list[str] = Field(default_factory=list)
    annotators: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    width: int = 0
    height: int = 0


class QueueStats(Result):
    open: int = 0
    assigned: int = 0
    submitted: int = 0
    completed: int = 0
    auto_accepted: int = 0
    pending: int = 0
    gold: int = 0


class Task(Result):
    task_id: str
    project_id: str = ""
    item_id: str = ""
    data_type: str = ""
    text: str = ""
    media_key: str = ""
    suggestion: list[Label] = Field(default_factory=list)
    assignee: str = ""
    task_status: str = ""


class Annotation(Result):
    annotation_id: str
    task_id: str = ""
    annotator: str = ""
    source: str = ""
    labels: list[Label] = Field(default_factory=list)
    decision: str = ""
    created_at: datetime | None = None


class ReviewTask(Result):
    review_task_id: str
    project_id: str = ""
    item_id: str = ""
    stage: str = ""
    labels: list[Label] = Field(default_factory=list)
    agreement: float = 0.0
    assignee: str = ""
    task_kind: str = ""
    task_status: str = ""


class Model(Result):
    """A registered model (the API's ModelInfo, with its ref flattened)."""

    model_id: str
    version: str = ""
    data_type: str = ""
    labels: list[str] = Field(default_factory=list)
    description: str = ""
    model_task: str = ""

    @classmethod
    def of(cls, body: dict[str, Any]) -> Model:
        ref = body.get("model", {})
        rest = {k: v for k, v in body.items() if k != "model"}
        return cls(model_id=ref.get("id", ""), version=ref.get("version", ""), **rest)


class DatasetVersion(Result):
    version_id: str
    project_id: str = ""
    name: str = ""
    item_count: int = 0
    label_count: int = 0
    class_counts: dict[str, int] = Field(default_factory=dict)
    split_counts: dict[str, int] = Field(default_factory=dict)
    classes: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    created_by: str = ""
    derived_from: str = ""


class ExportJob(Result):
    job_id: str
    version_id: str = ""
    project_id: str = ""
    format: str = ""
    archive: str = ""
    include_media: bool = False
    state: str = ""
    items_done: int = 0
    items_total: int = 0
    size_bytes: int = 0
    sha256: str = ""
    error: str = ""
    filename: str = ""

    @property
    def finished(self) -> bool:
        return self.state in ("EXPORT_STATE_SUCCEEDED", "EXPORT_STATE_FAILED")


class SyncCounts(Result):
    """What a bucket's sync did so far; proto-JSON's uint64 strings become ints."""

    listed: int = 0
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    failed: int = 0
    deleted: int = 0


class SyncFailure(Result):
    """An object a sync could not take in, and why."""

    key: str = ""
    reason: str = ""


class Bucket(Result):
    """A bucket registered as a project's source, with its latest sync."""

    bucket_id: str
    project_id: str = ""
    endpoint: str = ""
    secure: bool = False
    region: str = ""
    bucket: str = ""
    prefix: str = ""
    mode: str = ""
    mirror_deletions: bool = False
    access_key_id: str = ""
    created_by: str = ""
    created_at: datetime | None = None
    cursor: str = ""
    state: str = ""
    full: bool = False
    counts: SyncCounts = Field(default_factory=SyncCounts)
    error: str = ""
    sync_started_at: datetime | None = None
    sync_finished_at: datetime | None = None
    failures: list[SyncFailure] = Field(default_factory=list)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def syncing(self) -> bool:
        """A sync is queued or running."""
        return self.state in ("SYNC_STATE_QUEUED", "SYNC_STATE_RUNNING")

    @property
    def finished(self) -> bool:
        """The latest sync succeeded or failed (a bucket never synced has not finished)."""
        return self.state in ("SYNC_STATE_SUCCEEDED", "SYNC_STATE_FAILED")


class AuditEntry(Result):
    sequence: int = 0
    event_id: str = ""
    event_type: str = ""
    producer: str = ""
    actor: str = ""
    occurred_at: datetime | None = None
    previous_hash: str = ""
    hash: str = ""
    project_id: str = ""
    item_id: str = ""


class Verification(Result):
    """Whether a project's audit log is intact."""

    intact: bool = False
    chains_checked: int = 0
    entries_checked: int = 0
    checkpoints_checked: int = 0
    problems: list[dict[str, Any]] = Field(default_factory=list)
    checkpoint_hash: str = ""


class Page(BaseModel, Generic[T]):
    """One page of a list, and the token of the next (empty on the last)."""

    items: list[T]
    next_page_token: str = ""


class UploadResult(Result):
    """What the server did with one upload of a batch."""

    index: int = 0
    item_id: str = ""
    duplicate: bool = False
    error: FieldViolation | None = None


def upload_results(body: dict[str, Any]) -> list[UploadResult]:
    results = []
    for entry in body.get("results", []):
        error = entry.get("error")
        violation = None
        if error:
            violation = FieldViolation(error.get("field", ""), error.get("reason", ""))
        results.append(UploadResult(**{**entry, "error": violation}))
    return results
