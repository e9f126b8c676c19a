"""Helpers shared by the review service's MongoDB repositories."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from labelmesh.core.errors import Conflict
from labelmesh.core.labels import labels_from_json
from labelmesh.core.mongo import DUPLICATE_KEY, Document
from labelmesh.review.records import Window
from labelmesh.v1.geometry_pb2 import Label


def now() -> datetime:
    return datetime.now(UTC)


def labels_of(raw: Any) -> list[Label]:
    return labels_from_json(raw or [])


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
