"""Where records to upload come from: a folder, a list of URLs, a CSV or JSONL
manifest, or records in memory. Each source is read lazily, so a million-row
manifest is never held in memory, and knows its size up front when that is
cheap, for progress bars."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelmesh.sdk.records import MediaType, UploadRecord

# The file extensions of each data type ingest takes.
EXTENSIONS: dict[MediaType, frozenset[str]] = {
    "image": frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}),
    "audio": frozenset({".wav", ".mp3", ".flac", ".ogg", ".m4a", ".opus"}),
    "video": frozenset({".mp4", ".mov", ".webm", ".mkv", ".avi"}),
    "text": frozenset({".txt", ".md"}),
}


@dataclass(frozen=True)
class Source:
    """Records to upload, and how many there are when known."""

    records: Iterable[UploadRecord]
    total: int | None = None

    def __iter__(self) -> Iterator[UploadRecord]:
        return iter(self.records)


def folder(
    root: str | Path,
    types: Sequence[MediaType] = ("image", "audio", "video", "text"),
    recursive: bool = True,
) -> Source:
    """The files under `root` of the given data types, in path order; a file's
    key and its `path` metadata are its path relative to `root`."""
    base = Path(root)
    if not base.is_dir():
        raise ValueError(f"{root} is not a folder")
    unknown = set(types) - set(EXTENSIONS)
    if unknown:
        raise ValueError(f"unknown data types {sorted(unknown)}; choose from {sorted(EXTENSIONS)}")
    wanted = frozenset().union(*(EXTENSIONS[t] for t in types))
    pattern = "**/*" if recursive else "*"
    paths = sorted(p for p in base.glob(pattern) if p.suffix.lower() in wanted and p.is_file())

    def records() -> Iterator[UploadRecord]:
        for path in paths:
            relative = path.relative_to(base).as_posix()
            yield UploadRecord(relative, path=str(path), metadata={"path": relative})

    return Source(records(), len(paths))


def urls(lines: Iterable[str]) -> Source:
    """One record per URL (blank lines and `#` comments skipped); the server fetches each."""
    listed = [line.strip() for line in lines]
    kept = [line for line in listed if line and not line.startswith("#")]
    return Source((UploadRecord(url, url=url) for url in kept), len(kept))


@dataclass(frozen=True)
class Columns:
    """Which column (CSV header or JSONL key) holds what. Exactly one of
    `text`, `url` and `file` must be set; a `file` column holds a path relative
    to the manifest's folder."""

    text: str = ""
    url: str = ""
    file: str = ""
    metadata: Sequence[str] = ()
    label: str = ""
    annotator: str = ""
    annotations: str = ""
    predictions: str = ""
    key: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        content = [name for name in ("text", "url", "file") if getattr(self, name)]
        if len(content) != 1:
            raise ValueError("name exactly one content column: text, url or file")


def csv_file(path: str | Path, columns: Columns) -> Source:
    """A CSV manifest with a header row, one record per data row."""
    manifest = Path(path)

    def rows() -> Iterator[dict[str, Any]]:
        with manifest.open(newline="", encoding="utf-8") as handle:
            yield from csv.DictReader(handle)

    return Source(manifest_records(rows(), columns, manifest), count_lines(manifest) - 1)


def jsonl_file(path: str | Path, columns: Columns) -> Source:
    """A JSONL manifest, one JSON object per line."""
    manifest = Path(path)

    def rows() -> Iterator[dict[str, Any]]:
        with manifest.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    row = json.loads(line)
                    if not isinstance(row, dict):
                        raise ValueError(f"{manifest}:{number} is not a JSON object")
                    yield row

    return Source(manifest_records(rows(), columns, manifest), count_lines(manifest))


def manifest_records(
    rows: Iterable[dict[str, Any]], columns: Columns, manifest: Path
) -> Iterator[UploadRecord]:
    """Each row as a record, keyed by the key column or `<manifest>:<row>`."""
    for number, row in enumerate(rows):
        key = str(row.get(columns.key) or "") if columns.key else ""
        key = key or f"{manifest.name}:{number}"
        content: dict[str, Any] = {}
        if columns.text:
            content["text"] = str(row.get(columns.text) or "")
        elif columns.url:
            content["url"] = str(row.get(columns.url) or "")
        else:
            content["path"] = str(manifest.parent / str(row.get(columns.file) or ""))
        metadata = {
            name: str(row[name]) for name in columns.metadata if row.get(name) not in (None, "")
        }
        yield UploadRecord(
            key,
            metadata=metadata,
            annotations=annotations_of(row, columns),
            predictions=json_list(row.get(columns.predictions)) if columns.predictions else [],
            **content,
        )


def annotations_of(row: Mapping[str, Any], columns: Columns) -> list[dict[str, Any]]:
    """The row's annotations column, plus its label column as one classification."""
    annotations = json_list(row.get(columns.annotations)) if columns.annotations else []
    label = str(row.get(columns.label) or "") if columns.label else ""
    if label:
        annotation: dict[str, Any] = {"labels": [{"classification": {"label": label}}]}
        if columns.annotator and row.get(columns.annotator):
            annotation["annotator"] = str(row[columns.annotator])
        annotations.append(annotation)
    return annotations


def json_list(value: Any) -> list[dict[str, Any]]:
    """A column holding a JSON list: parsed from a CSV cell, taken as is from JSONL."""
    if value in (None, ""):
        return []
    parsed = json.loads(value) if isinstance(value, str) else value
    if not isinstance(parsed, list):
        raise ValueError(f"expected a JSON list, found {type(parsed).__name__}")
    return parsed


def records(items: Iterable[UploadRecord | Mapping[str, Any]]) -> Source:
    """Records in memory: `UploadRecord`s, or dicts of its fields (a missing
    `key` becomes the record's position)."""
    listed = list(items)

    def made() -> Iterator[UploadRecord]:
        for index, item in enumerate(listed):
            if isinstance(item, UploadRecord):
                yield item
            else:
                yield UploadRecord(**{"key": str(index), **item})

    return Source(made(), len(listed))


def count_lines(path: Path) -> int:
    """The number of lines, counted in large binary blocks: a progress bar's total."""
    count = 0
    last = b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")
