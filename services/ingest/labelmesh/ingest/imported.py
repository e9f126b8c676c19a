"""What an import brings with an item: where it came from, and the annotations
and predictions made before it came in. Parsing from proto-JSON and checking. Pure."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from labelmesh.core.errors import InvalidField
from labelmesh.core.labels import NAMED_KINDS, labels_from_json
from labelmesh.v1.events_pb2 import ImportedAnnotation, ImportedPrediction
from labelmesh.v1.geometry_pb2 import Label

UPLOAD_SOURCE = "upload"
# A short lowercase tool name, such as "label-studio".
SOURCE_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
MAX_SOURCE_URI_CHARS = 2048
# Per item: enough for every annotator of a consensus project and more.
MAX_IMPORTED = 64
MAX_LABELS = 10_000

Imported = TypeVar("Imported", ImportedAnnotation, ImportedPrediction)


def checked_source(source: str, default: str, field: str) -> str:
    """The item's source: `default` when empty; InvalidField unless a short tool name."""
    if not source:
        return default
    if not SOURCE_PATTERN.fullmatch(source):
        reason = f"{source!r} is not a lowercase name matching {SOURCE_PATTERN.pattern}"
        raise InvalidField(field, reason)
    return source


def checked_source_uri(uri: str, field: str) -> str:
    if len(uri) > MAX_SOURCE_URI_CHARS:
        raise InvalidField(field, f"at most {MAX_SOURCE_URI_CHARS} characters")
    return uri


def annotations_of(raw: Sequence[object], field: str) -> tuple[ImportedAnnotation, ...]:
    """Imported annotations, as messages or their proto-JSON; each is checked and
    needs at least one label. InvalidField names e.g. `<field>[0].labels[1]`."""
    annotations = _parsed(raw, ImportedAnnotation, field)
    for index, annotation in enumerate(annotations):
        if not annotation.labels:
            raise InvalidField(f"{field}[{index}].labels", "an annotation needs at least one label")
    return annotations


def predictions_of(raw: Sequence[object], field: str) -> tuple[ImportedPrediction, ...]:
    """Imported predictions, as messages or their proto-JSON; each is checked,
    its score in [0, 1]."""
    predictions = _parsed(raw, ImportedPrediction, field)
    for index, prediction in enumerate(predictions):
        if not 0 <= prediction.score <= 1:
            raise InvalidField(f"{field}[{index}].score", f"{prediction.score} is not in [0, 1]")
    return predictions


def _parsed(raw: Sequence[object], kind: type[Imported], field: str) -> tuple[Imported, ...]:
    if len(raw) > MAX_IMPORTED:
        raise InvalidField(field, f"at most {MAX_IMPORTED} per item")
    parsed = []
    for index, entry in enumerate(raw):
        at = f"{field}[{index}]"
        message = entry if isinstance(entry, kind) else _from_json(entry, kind, at)
        if len(message.labels) > MAX_LABELS:
            raise InvalidField(f"{at}.labels", f"at most {MAX_LABELS} labels")
        for position, label in enumerate(message.labels):
            problem = label_problem(label)
            if problem:
                raise InvalidField(f"{at}.labels[{position}]", problem)
        parsed.append(message)
    return tuple(parsed)


def _from_json(raw: object, kind: type[Imported], at: str) -> Imported:
    if not isinstance(raw, Mapping):
        raise InvalidField(at, "must be an object")
    rest: dict[str, Any] = dict(raw)
    labels = rest.pop("labels", [])
    if not isinstance(labels, list):
        raise InvalidField(f"{at}.labels", "must be a list")
    message = kind()
    _parse_into(rest, message, at)
    # Label by label, so that an error names the one at fault.
    message.labels.extend(labels_from_json(labels, f"{at}.labels"))
    return message


def _parse_into(raw: dict[str, Any], message: Message, at: str) -> None:
    try:
        json_format.ParseDict(raw, message)
    except json_format.ParseError as exc:
        raise InvalidField(at, str(exc)) from None


def label_problem(label: Label) -> str | None:
    """Why a label cannot be kept, or None. Checks what needs no label schema:
    the project's classes are the annotation service's to check."""
    kind = label.WhichOneof("kind")
    if kind is None:
        return "a label needs a kind, such as classification or bounding_box"
    if not 0 <= label.confidence <= 1 or math.isnan(label.confidence):
        return f"confidence {label.confidence} is not in [0, 1]"
    if kind in NAMED_KINDS and not getattr(label, kind).label:
        return f"{kind}.label: a class name is required"
    return _geometry_problem(label, kind)


def _geometry_problem(label: Label, kind: str) -> str | None:
    if kind == "bounding_box":
        box = label.bounding_box
        if not (box.width > 0 and box.height > 0):
            return "bounding_box: width and height must be positive"
    elif kind == "polygon" and len(label.polygon.points) < 3:
        return "polygon: at least three points"
    elif kind == "mask":
        mask = label.mask
        if sum(mask.counts) != mask.width * mask.height:
            return f"mask: counts sum to {sum(mask.counts)}, not width * height"
    elif kind == "text_span" and label.text_span.end <= label.text_span.start:
        return "text_span: end must be after start"
    elif kind == "time_segment":
        segment = label.time_segment
        if segment.end_seconds < segment.start_seconds:
            return "time_segment: end_seconds must not be before start_seconds"
    elif kind == "keypoints" and not label.keypoints.points:
        return "keypoints: at least one point"
    return None
