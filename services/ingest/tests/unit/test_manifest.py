"""Manifests: their format, the mapping of their columns, and what rows ask for."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from labelmesh.core.errors import InvalidField
from labelmesh.ingest.manifest import (
    CSV,
    JSONL,
    ManifestRow,
    batches,
    checked_mapping,
    csv_rows,
    format_of,
    jsonl_rows,
    manifest_row,
    mapping_of_json,
    object_key_problem,
)
from labelmesh.v1.events_pb2 import ImportedAnnotation
from labelmesh.v1.geometry_pb2 import Classification, Label
from labelmesh.v1.ingest_service_pb2 import ManifestMapping

MAPPING = ManifestMapping(
    text="body", url="link", label="class", annotator="who", metadata=["camera"]
)


def error_of(call: Any, *args: Any) -> tuple[str, str]:
    with pytest.raises(InvalidField) as error:
        call(*args)
    return error.value.field, error.value.reason


def test_the_format_is_named_or_taken_from_the_file_name() -> None:
    assert format_of("csv", "x.jsonl") == CSV
    assert format_of("JSONL", "") == JSONL
    assert format_of("", "rows.CSV") == CSV
    assert format_of("", "rows.ndjson") == JSONL
    assert error_of(format_of, "xml", "a.csv") == ("format", "'xml' is not csv or jsonl")
    assert error_of(format_of, "", "rows.txt")[0] == "format"


def test_a_mapping_is_proto_json_and_names_a_content_column() -> None:
    mapping = mapping_of_json('{"url": "image", "metadata": ["camera", "site"], "label": "c"}')
    assert mapping == ManifestMapping(url="image", metadata=["camera", "site"], label="c")
    assert checked_mapping(mapping) is mapping
    assert error_of(mapping_of_json, "")[0] == "mapping"
    assert error_of(mapping_of_json, "{x")[1].startswith("not JSON")
    assert error_of(mapping_of_json, "[]") == ("mapping", "must be a JSON object")
    field, reason = error_of(mapping_of_json, '{"txt": "body"}')
    assert field == "mapping" and "txt" in reason
    assert error_of(checked_mapping, ManifestMapping(label="c"))[0] == "mapping"
    assert error_of(checked_mapping, ManifestMapping(text="t", annotator="a"))[0] == (
        "mapping.annotator"
    )


def test_csv_rows_are_streamed_by_header_with_bad_rows_failing_alone() -> None:
    content = (
        "\ufeffbody,link,class,who,camera\r\n"
        "a cat,,cat,alice,2\r\n"
        "\r\n"
        '"two\nlines",,,,\r\n'
        "short,row\r\n"
    ).encode() + b"\xff\xfe,,,,\r\n"
    rows = list(csv_rows(io.BytesIO(content), MAPPING))
    assert rows[0] == {"body": "a cat", "link": "", "class": "cat", "who": "alice", "camera": "2"}
    assert rows[1] == {"body": "two\nlines", "link": "", "class": "", "who": "", "camera": ""}
    assert isinstance(rows[2], InvalidField) and (rows[2].field, rows[2].reason) == (
        "rows[2]",
        "2 cells for a header of 5",
    )
    assert isinstance(rows[3], InvalidField) and rows[3].reason == "not UTF-8"


def test_a_csv_header_must_hold_every_mapped_column() -> None:
    rows = csv_rows(io.BytesIO(b"body,link\r\nx,\r\n"), MAPPING)
    assert error_of(next, rows) == ("mapping.label", "no column 'class' in the header")
    assert error_of(next, csv_rows(io.BytesIO(b""), MAPPING))[0] == "file"


def test_jsonl_rows_are_objects_and_a_bad_line_fails_alone() -> None:
    content = b'{"body": "one"}\n\n[1, 2]\n{not json\n{"link": "http://a.example/x"}\n'
    rows = list(jsonl_rows(io.BytesIO(content)))
    assert rows[0] == {"body": "one"} and rows[3] == {"link": "http://a.example/x"}
    assert isinstance(rows[1], InvalidField) and rows[1].field == "rows[1]"
    assert isinstance(rows[2], InvalidField) and rows[2].reason.startswith("not a JSON object")


def test_rows_come_in_batches() -> None:
    rows = iter([{"body": str(i)} for i in range(5)])
    assert [len(batch) for batch in batches(rows, 2)] == [2, 2, 1]


def test_a_row_becomes_its_content_metadata_and_annotations() -> None:
    row = manifest_row(
        {"body": "a cat", "class": "cat", "who": "alice", "camera": "2"}, MAPPING, "rows[4]"
    )
    assert row == ManifestRow(
        kind="text",
        value="a cat",
        metadata={"camera": "2"},
        annotations=[
            ImportedAnnotation(
                labels=[Label(classification=Classification(label="cat"), confidence=1)],
                annotator="alice",
            )
        ],
    )
    url = manifest_row({"link": " http://a.example/x.png ", "camera": 7}, MAPPING, "rows[0]")
    assert (url.kind, url.value, url.metadata, url.annotations) == (
        "url",
        "http://a.example/x.png",
        {"camera": "7"},
        [],
    )


def test_annotation_columns_hold_json_lists_as_text_or_as_json() -> None:
    mapping = ManifestMapping(object_key="key", annotations="ann", predictions="p", annotator="w")
    listed = [{"labels": [{"classification": {"label": "a"}}]}]
    from_csv = manifest_row(
        {"key": "imports/p/a.png", "ann": json.dumps(listed), "p": "", "w": "bo"}, mapping, "r"
    )
    assert from_csv.annotations == [{**listed[0], "annotator": "bo"}]
    from_jsonl = manifest_row({"key": "imports/p/a.png", "p": [{"score": 0.5}]}, mapping, "rows[1]")
    assert (from_jsonl.annotations, from_jsonl.predictions) == ([], [{"score": 0.5}])


@pytest.mark.parametrize(
    ("row", "field", "why"),
    [
        ({"body": "", "link": ""}, "rows[12]", "give exactly one of text, url; found none"),
        ({"body": "x", "link": "http://a/"}, "rows[12]", "found text, url"),
        ({"body": 3}, "rows[12].text", "must hold a string"),
        ({"body": "x", "class": ["a"]}, "rows[12].label", "must hold a string"),
    ],
)
def test_a_bad_row_is_named(row: dict[str, object], field: str, why: str) -> None:
    at, reason = error_of(manifest_row, row, MAPPING, "rows[12]")
    assert at == field and why in reason


@pytest.mark.parametrize(
    ("value", "why"), [("[not json", "not JSON"), ('{"labels": []}', "must be a JSON list")]
)
def test_an_annotations_column_that_is_not_a_json_list_is_named(value: str, why: str) -> None:
    mapping = ManifestMapping(text="t", annotations="a")
    at, reason = error_of(manifest_row, {"t": "x", "a": value}, mapping, "rows[12]")
    assert at == "rows[12].annotations" and why in reason


def test_a_manifest_reads_only_objects_staged_for_its_project_or_its_own_media() -> None:
    assert object_key_problem("imports/p1/batch/a.png", "p1") is None
    assert object_key_problem("projects/p1/items/i/r/sha", "p1") is None
    assert object_key_problem("projects/p2/items/i/r/sha", "p1") is not None
    assert object_key_problem("imports/p2/a.png", "p1") is not None
    assert object_key_problem("exports/job.zip", "p1") is not None
    problem = object_key_problem("imports/p1/../p2/a.png", "p1")
    assert problem is not None and "invalid object key" in problem
