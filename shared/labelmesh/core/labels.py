"""Labels between their protobuf form and JSON (proto3 JSON mapping), and the
stored form in MongoDB documents."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from google.protobuf import json_format

from labelmesh.core.errors import InvalidField
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import Label


def label_to_json(label: Label) -> dict[str, Any]:
    as_json: dict[str, Any] = json_format.MessageToDict(
        label, always_print_fields_with_no_presence=True
    )
    return as_json


def labels_to_json(labels: Iterable[Label]) -> list[dict[str, Any]]:
    return [label_to_json(label) for label in labels]


def labels_from_json(raw: Sequence[Any], field: str = "labels") -> list[Label]:
    """Parse JSON labels; a malformed one raises InvalidField naming its position."""
    labels = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidField(f"{field}[{index}]", "must be an object")
        try:
            labels.append(json_format.ParseDict(item, Label()))
        except json_format.ParseError as exc:
            raise InvalidField(f"{field}[{index}]", str(exc)) from None
    return labels


def data_type_from_name(name: str, field: str = "data_type") -> int:
    """Accept "TEXT" or "DATA_TYPE_TEXT"; anything else raises InvalidField."""
    full = name.upper() if name.upper().startswith("DATA_TYPE_") else f"DATA_TYPE_{name.upper()}"
    if full not in DataType.keys() or full == "DATA_TYPE_UNSPECIFIED":
        raise InvalidField(field, f"unknown data type {name!r}; use TEXT, IMAGE, AUDIO or VIDEO")
    value: int = DataType.Value(full)
    return value


def data_type_name(value: int) -> str:
    name: str = DataType.Name(value)
    return name.removeprefix("DATA_TYPE_")
