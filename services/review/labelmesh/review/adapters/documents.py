"""Helpers shared by the review service's MongoDB repositories."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from labelmesh.core.errors import Conflict
from labelmesh.core.labels import labels_from_json
from labelmesh.core.mongo import Document
from labelmesh.review.records import Window
from labelmesh.v1.geometry_pb2 import Label

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")

DUPLICATE_KEY = 11000


def now() -> datetime:
    return datetime.now(UTC)


def labels_of(raw: Any) -> list[Label]:
    return labels_from_json(raw or [])


def aware(moment: datetime | None) -> datetime | None:
    """MongoDB may return naive UTC datetimes."""
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


def to_document(record: DataclassInstance, id_field: str | None, /, **stored: Any) -> Document:
    """A record's fields as a document, `id_field` (if any) kept as `_id`. `stored` gives
    the fields kept in another form than the record's (enum values, labels as JSON) and
    any field the record does not have."""
    document: Document = {} if id_field is None else {"_id": getattr(record, id_field)}
    for f in dataclasses.fields(record):
        if f.name != id_field:
            document[f.name] = getattr(record, f.name)
    document.update(stored)
    return document


def from_document(kind: type[R], document: Document, id_field: str | None, /, **read: Any) -> R:
    """The record `to_document` stored, `id_field` (if any) from `_id`. `read` gives the
    fields read back in another form (enums, labels, aware datetimes, defaults)."""
    values = {
        f.name: document[f.name]
        for f in dataclasses.fields(kind)
        if f.name != id_field and f.name not in read
    }
    if id_field is not None:
        values[id_field] = document["_id"]
    return kind(**values, **read)


def conflict_on_duplicate(exc: DuplicateKeyError | BulkWriteError, what: str) -> Conflict | None:
    """The domain error for a write that hit an existing id, if that is what failed."""
    if isinstance(exc, DuplicateKeyError):
        return Conflict(f"{what} already stored")
    errors = exc.details.get("writeErrors", [])
    if errors and all(e.get("code") == DUPLICATE_KEY for e in errors):
        return Conflict(f"{what} already stored")
    return None


async def find_in_window(
    collection: AsyncCollection[Document], at: str, who: str, window: Window
) -> list[Document]:
    """A project's documents in a time window on field `at` (and of `who`), oldest first."""
    query: Document = {"project_id": window.project_id}
    bounds = {}
    if window.since is not None:
        bounds["$gte"] = window.since
    if window.until is not None:
        bounds["$lt"] = window.until
    if bounds:
        query[at] = bounds
    if window.user:
        query[who] = window.user
    return await collection.find(query).sort(at, 1).to_list(None)
