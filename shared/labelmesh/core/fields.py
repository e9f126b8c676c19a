"""Building one record from another object that has most of its fields."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")


def carry_fields(kind: type[R], source: object, /, **given: Any) -> R:
    """A `kind` record whose fields are read by name from `source` (attributes or
    properties, of a record, a proto message or a request model), except those `given`."""
    carried = {
        f.name: getattr(source, f.name)
        for f in dataclasses.fields(kind)
        if f.init and f.name not in given
    }
    return kind(**carried, **given)
