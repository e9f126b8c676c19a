"""Helpers shared by the review service's MongoDB repositories."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from labelmesh.core.errors import Conflict
from labelmesh.core.labels import labels_from_json
from labelmesh.core.mongo import DUPLICATE_KEY, Document
from labelmesh.review.records import Window
from labelmesh.v1.geometry_pb2 import Label

# SecantusDB checks every document an `$in` finds against every value asked for, so one
# query's cost grows with the square of its size: a fetch's ids are asked in slices.
IN_SLICE = 100


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


async def find_in(
    collection: AsyncCollection[Document],
    field: str,
    values: Iterable[Any],
    session: AsyncClientSession | None = None,
) -> list[Document]:
    """The documents whose `field` is one of `values` (each asked once), in slices."""
    wanted = list(dict.fromkeys(values))
    found: list[Document] = []
    for first in range(0, len(wanted), IN_SLICE):
        chunk = wanted[first : first + IN_SLICE]
        found += await collection.find({field: {"$in": chunk}}, session=session).to_list(None)
    return found
