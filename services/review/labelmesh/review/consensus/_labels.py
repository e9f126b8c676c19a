"""Reading one kind of geometry out of a labelmesh.v1 Label."""

from __future__ import annotations

from typing import Any

from labelmesh.v1.geometry_pb2 import Label


def geometry_of(label: Label, kind: str) -> Any:
    """The label's `kind` field; ValueError if the label holds another kind."""
    found = label.WhichOneof("kind")
    if found != kind:
        raise ValueError(f"label kind {found!r} is not {kind!r}")
    return getattr(label, kind)
