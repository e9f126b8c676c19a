"""The `items` form field of a multipart file upload: what each file part comes
with, as JSON. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from labelmesh.core.errors import InvalidField

FIELD = "items"
KNOWN_KEYS = frozenset({"metadata", "annotations", "predictions", "source", "source_uri"})


@dataclass(frozen=True)
class ItemFields:
    """What one file comes with; annotations and predictions as proto-JSON, checked later."""

    metadata: dict[str, str] = field(default_factory=dict)
    annotations: list[object] = field(default_factory=list)
    predictions: list[object] = field(default_factory=list)
    source: str = ""
    source_uri: str = ""


def file_items(raw: str | None, files: int) -> list[ItemFields]:
    """One ItemFields per file part, in order; nothing given means nothing for each."""
    if raw is None or not raw.strip():
        return [ItemFields() for _ in range(files)]
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise InvalidField(FIELD, f"not JSON: {exc}") from None
    if not isinstance(parsed, list):
        raise InvalidField(FIELD, "must be a JSON array with one object per file part")
    if len(parsed) != files:
        raise InvalidField(FIELD, f"has {len(parsed)} entries for {files} file parts")
    return [item_fields(entry, f"{FIELD}[{i}]") for i, entry in enumerate(parsed)]


def item_fields(raw: object, at: str) -> ItemFields:
    """One entry of `items`; InvalidField names the key at fault under `at`."""
    if not isinstance(raw, Mapping):
        raise InvalidField(at, "must be an object")
    unknown = sorted(set(raw) - KNOWN_KEYS)
    if unknown:
        known = ", ".join(sorted(KNOWN_KEYS))
        raise InvalidField(f"{at}.{unknown[0]}", f"unknown key; use {known}")
    return ItemFields(
        metadata=string_map(raw.get("metadata", {}), f"{at}.metadata"),
        annotations=json_list(raw.get("annotations", []), f"{at}.annotations"),
        predictions=json_list(raw.get("predictions", []), f"{at}.predictions"),
        source=string(raw.get("source", ""), f"{at}.source"),
        source_uri=string(raw.get("source_uri", ""), f"{at}.source_uri"),
    )


def string_map(raw: object, at: str) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
        raise InvalidField(at, "must be an object of strings")
    return {str(k): v for k, v in raw.items()}


def json_list(raw: object, at: str) -> list[object]:
    if not isinstance(raw, list):
        raise InvalidField(at, "must be a list")
    return raw


def string(raw: object, at: str) -> str:
    if not isinstance(raw, str):
        raise InvalidField(at, "must be a string")
    return raw
