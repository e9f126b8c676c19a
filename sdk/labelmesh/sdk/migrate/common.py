"""What every import of another tool's export shares: the result, and how
media paths of the export are found on disk."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelmesh.sdk.records import UploadRecord

Label = dict[str, Any]


@dataclass
class Migration:
    """The records an export becomes, and what of it could not come along."""

    records: list[UploadRecord] = field(default_factory=list)
    # "<item in the export>: <why it was left out>"
    skipped: list[str] = field(default_factory=list)
    # Labels of kinds LabelMesh has no geometry for, counted by kind.
    unsupported: Counter[str] = field(default_factory=Counter)

    @property
    def annotations(self) -> int:
        return sum(len(record.annotations) for record in self.records)

    @property
    def predictions(self) -> int:
        return sum(len(record.predictions) for record in self.records)


def find_media(reference: str, root: Path) -> Path | None:
    """A media reference of an export as a file under `root`: the path itself,
    Label Studio's `/data/upload/...` and `/data/local-files/?d=...` forms, or
    at last the bare file name."""
    candidates = []
    if reference.startswith("/data/local-files/"):
        candidates.append(reference.partition("?d=")[2])
    if reference.startswith("/data/"):
        candidates.append(reference.removeprefix("/data/"))
    candidates += [reference.lstrip("/"), Path(reference).name]
    for candidate in candidates:
        path = root / candidate
        if candidate and path.is_file():
            return path
    return None


def box(label: str, x: float, y: float, width: float, height: float) -> Label:
    return {"bounding_box": {"label": label, "x": x, "y": y, "width": width, "height": height}}


def polygon(label: str, points: list[tuple[float, float]]) -> Label:
    return {"polygon": {"label": label, "points": [{"x": x, "y": y} for x, y in points]}}


def classification(label: str) -> Label:
    return {"classification": {"label": label}}
