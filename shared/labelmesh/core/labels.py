"""Labels between their protobuf form and JSON (proto3 JSON mapping), and the
stored form in MongoDB documents."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from labelmesh.core.errors import InvalidField
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import Label

M = TypeVar("M", bound=Message)
# Geometry kinds whose message has a class name in its `label` field.
NAMED_KINDS = frozenset(
    {"classification", "bounding_box", "polygon", "mask", "keypoints", "text_span", "time_segment"}
)


def class_of(label: Label) -> str | None:
    """The label's class; None for geometry without one (a transcription)."""
    kind = label.WhichOneof("kind")
    if kind not in NAMED_KINDS:
        return None
    name: str = getattr(label, kind).label
    return name


def message_to_json(message: Message) -> dict[str, Any]:
    """Any message in the REST APIs' JSON form: field names as in the proto, defaults shown."""
    converted: dict[str, Any] = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return converted


def message_from_json(raw: dict[str, Any], message: M, field: str) -> M:
    """Fill `message` from JSON; a malformed value raises InvalidField naming `field`."""
    try:
        json_format.ParseDict(raw, message)
    except json_format.ParseError as exc:
        raise InvalidField(field, str(exc)) from None
    return message


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
