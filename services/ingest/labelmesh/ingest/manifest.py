"""CSV and JSONL manifests: their format, the mapping of their columns, and what
each row asks for. Pure: rows are read from a file the caller opened."""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Literal

from labelmesh.core.errors import InvalidField
from labelmesh.core.labels import message_from_json
from labelmesh.core.storage import validate_key
from labelmesh.v1.events_pb2 import ImportedAnnotation
from labelmesh.v1.geometry_pb2 import Classification, Label
from labelmesh.v1.ingest_service_pb2 import ManifestFormat, ManifestMapping

ROWS = "rows"
CSV, JSONL = ManifestFormat.MANIFEST_FORMAT_CSV, ManifestFormat.MANIFEST_FORMAT_JSONL
FORMAT_NAMES = {"csv": CSV, "jsonl": JSONL}
EXTENSIONS = {".csv": CSV, ".jsonl": JSONL, ".ndjson": JSONL}
# What a row holds: each row gives exactly one of these.
CONTENT_COLUMNS = ("text", "url", "object_key")
# CSV fields may be long: a text item's text, a JSON list of annotations.
csv.field_size_limit(64 * 1024 * 1024)
# A value of a row as read: a CSV cell is a string, a JSONL value any JSON.
Row = Mapping[str, object]


@dataclass(frozen=True)
class ManifestRow:
    """What one data row asks for: its content and what its item comes with."""

    kind: Literal["text", "url", "object_key"]
    value: str
    metadata: dict[str, str] = field(default_factory=dict)
    # ImportedAnnotation messages or their proto-JSON, checked by the upload.
    annotations: list[object] = field(default_factory=list)
    predictions: list[object] = field(default_factory=list)


def format_of(name: str, filename: str) -> ManifestFormat:
    """The format a `format` field names ("csv", "jsonl"), else the file name's."""
    if name:
        found = FORMAT_NAMES.get(name.lower().removeprefix("manifest_format_"))
        if found is None:
            raise InvalidField("format", f"{name!r} is not csv or jsonl")
        return found
    for extension, by_name in EXTENSIONS.items():
        if filename.lower().endswith(extension):
            return by_name
    raise InvalidField("format", f"give csv or jsonl: the file name {filename!r} does not say")


def checked_mapping(mapping: ManifestMapping) -> ManifestMapping:
    """The mapping, if it names a content column; InvalidField names the field at fault."""
    if not any(getattr(mapping, column) for column in CONTENT_COLUMNS):
        raise InvalidField("mapping", "name the column of at least one of text, url, object_key")
    if mapping.annotator and not (mapping.label or mapping.annotations):
        raise InvalidField("mapping.annotator", "an annotator needs a label or annotations column")
    return mapping


def mapped_columns(mapping: ManifestMapping) -> list[tuple[str, str]]:
    """Every (mapping field, column) the mapping names."""
    single = [
        (name, getattr(mapping, name))
        for name in (*CONTENT_COLUMNS, "label", "annotations", "predictions", "annotator")
    ]
    listed = [(f"metadata[{i}]", column) for i, column in enumerate(mapping.metadata)]
    return [(name, column) for name, column in single + listed if column]


def csv_rows(file: IO[bytes], mapping: ManifestMapping) -> Iterator[Row | InvalidField]:
    """The data rows of a CSV file with a header, blank lines skipped; a row that
    is not UTF-8 or has the wrong number of cells is that row's error."""
    # surrogateescape: an undecodable byte fails its row, not the rest of the file.
    lines = (line.decode("utf-8", "surrogateescape") for line in file)
    reader = csv.reader(lines)
    header = next(reader, None)
    if not header:
        raise InvalidField("file", "empty: a CSV manifest starts with a header row")
    header[0] = header[0].removeprefix("\ufeff")
    for name, column in mapped_columns(mapping):
        if column not in header:
            raise InvalidField(f"mapping.{name}", f"no column {column!r} in the header")
    cells = (row for row in reader if any(row))
    for index, row in enumerate(cells):
        at = f"{ROWS}[{index}]"
        if len(row) != len(header):
            yield InvalidField(at, f"{len(row)} cells for a header of {len(header)}")
        elif any(_undecodable(cell) for cell in row):
            yield InvalidField(at, "not UTF-8")
        else:
            yield dict(zip(header, row, strict=True))


def jsonl_rows(file: IO[bytes]) -> Iterator[Row | InvalidField]:
    """The objects of a JSONL file, blank lines skipped; a line that is not a
    JSON object is that row's error."""
    lines = (line for line in file if line.strip())
    for index, line in enumerate(lines):
        at = f"{ROWS}[{index}]"
        try:
            row = json.loads(line)
        except ValueError as exc:
            yield InvalidField(at, f"not a JSON object: {exc}")
            continue
        yield row if isinstance(row, dict) else InvalidField(at, "not a JSON object")


def rows_of(
    file: IO[bytes], format_: ManifestFormat, mapping: ManifestMapping
) -> Iterator[Row | InvalidField]:
    return csv_rows(file, mapping) if format_ == CSV else jsonl_rows(file)


def batches(rows: Iterator[Row | InvalidField], size: int) -> Iterator[list[Row | InvalidField]]:
    while batch := list(itertools.islice(rows, size)):
        yield batch


def manifest_row(row: Row, mapping: ManifestMapping, at: str) -> ManifestRow:
    """What a row asks for; InvalidField names e.g. `rows[12].annotations`."""
    given = [
        (column, _text(row, getattr(mapping, column), f"{at}.{column}"))
        for column in CONTENT_COLUMNS
        if getattr(mapping, column)
    ]
    present = [(column, value) for column, value in given if value]
    if len(present) != 1:
        found = ", ".join(column for column, _ in present) or "none"
        mapped = ", ".join(column for column, _ in given)
        raise InvalidField(at, f"give exactly one of {mapped}; found {found}")
    kind, value = present[0]
    metadata = {column: _metadata_value(row.get(column)) for column in mapping.metadata}
    annotator = _text(row, mapping.annotator, f"{at}.annotator")
    annotations = _json_list(row, mapping.annotations, f"{at}.annotations")
    if annotator:
        annotations = [_with_annotator(a, annotator) for a in annotations]
    label = _text(row, mapping.label, f"{at}.label")
    if label:
        labelled = Label(classification=Classification(label=label), confidence=1.0)
        annotations.append(ImportedAnnotation(labels=[labelled], annotator=annotator))
    return ManifestRow(
        kind=kind,  # type: ignore[arg-type]
        value=value,
        metadata={k: v for k, v in metadata.items() if v},
        annotations=annotations,
        predictions=_json_list(row, mapping.predictions, f"{at}.predictions"),
    )


def _text(row: Row, column: str, at: str) -> str:
    if not column:
        return ""
    value = row.get(column)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidField(at, f"column {column!r} must hold a string")
    return value.strip()


def _metadata_value(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _json_list(row: Row, column: str, at: str) -> list[object]:
    """A column holding a JSON list: a list in JSONL, or its JSON text in either format."""
    value = row.get(column) if column else None
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise InvalidField(at, f"not JSON: {exc}") from None
    if not isinstance(value, list):
        raise InvalidField(at, "must be a JSON list")
    return list(value)


def _with_annotator(annotation: object, annotator: str) -> object:
    if isinstance(annotation, dict) and not annotation.get("annotator"):
        return {**annotation, "annotator": annotator}
    return annotation


def _undecodable(cell: str) -> bool:
    return any("\udc80" <= c <= "\udcff" for c in cell)


def object_key_problem(key: str, project_id: str) -> str | None:
    """Why a manifest may not read this object, or None. A project reads only what
    was staged for it (under "imports/<project_id>/") and its own media: never
    another project's objects, nor anything else the store holds."""
    try:
        validate_key(key)
    except ValueError as exc:
        return str(exc)
    if key.startswith((f"imports/{project_id}/", f"projects/{project_id}/")):
        return None
    return f"not under imports/{project_id}/ or the project's own media"


def mapping_of_json(raw: str) -> ManifestMapping:
    """The `mapping` form field: the proto-JSON of a ManifestMapping."""
    if not raw.strip():
        raise InvalidField("mapping", 'required: JSON naming the columns, e.g. {"url": "image"}')
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise InvalidField("mapping", f"not JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise InvalidField("mapping", "must be a JSON object")
    return message_from_json(parsed, ManifestMapping(), "mapping")
