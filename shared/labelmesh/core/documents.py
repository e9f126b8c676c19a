"""Records (dataclasses) as MongoDB documents and back, for the repositories in
each service's `adapters/`."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from labelmesh.core.mongo import Document

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")


def aware(moment: datetime | None) -> datetime | None:
    """MongoDB may return naive UTC datetimes."""
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


def to_document(record: DataclassInstance, id_field: str | None, /, **stored: Any) -> Document:
    """A record's fields as a document, `id_field` (if any) kept as `_id`. `stored` gives
    the fields kept in another form than the record's (enum values, labels as JSON) and
    any field the record does not have."""
    document: Document = {} if id_field is None else {"_id": getattr(record, id_field)}
    for name in _field_names(type(record)):
        if name != id_field:
            document[name] = getattr(record, name)
    document.update(stored)
    return document


def from_document(kind: type[R], document: Document, id_field: str | None, /, **read: Any) -> R:
    """The record `to_document` stored, `id_field` (if any) from `_id`. `read` gives the
    fields read back in another form (enums, labels, aware datetimes, defaults)."""
    values = {
        name: document[name] for name in _field_names(kind) if name != id_field and name not in read
    }
    if id_field is not None:
        values[id_field] = document["_id"]
    return kind(**values, **read)


@cache
def _field_names(kind: type[DataclassInstance]) -> tuple[str, ...]:
    # dataclasses.fields() rebuilds its answer on every call; projections
    # decode a document per item, millions of them in a version.
    return tuple(f.name for f in dataclasses.fields(kind))
