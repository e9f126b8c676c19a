"""The `items` form field of a file upload."""

from __future__ import annotations

import json

import pytest

from labelmesh.core.errors import InvalidField
from labelmesh.ingest.form_items import ItemFields, file_items


def error_of(raw: str, files: int) -> tuple[str, str]:
    with pytest.raises(InvalidField) as error:
        file_items(raw, files)
    return error.value.field, error.value.reason


def test_each_file_part_gets_its_entry_in_order() -> None:
    raw = json.dumps(
        [
            {"metadata": {"camera": "2"}, "source": "cvat", "source_uri": "cvat://task/1"},
            {"annotations": [{"labels": []}], "predictions": [{"score": 0.5}]},
        ]
    )
    first, second = file_items(raw, 2)
    assert first == ItemFields(metadata={"camera": "2"}, source="cvat", source_uri="cvat://task/1")
    assert (second.annotations, second.predictions) == ([{"labels": []}], [{"score": 0.5}])


def test_no_items_field_gives_each_file_nothing() -> None:
    assert file_items(None, 2) == [ItemFields(), ItemFields()]
    assert file_items("  ", 1) == [ItemFields()]


@pytest.mark.parametrize(
    ("raw", "field", "why"),
    [
        ("{not json", "items", "not JSON"),
        ('{"metadata": {}}', "items", "JSON array"),
        ("[{}]", "items", "1 entries for 2 file parts"),
        ('[{}, "x"]', "items[1]", "must be an object"),
        ('[{}, {"metadata": {"a": 1}}]', "items[1].metadata", "object of strings"),
        ('[{}, {"annotations": {}}]', "items[1].annotations", "must be a list"),
        ('[{}, {"source": 3}]', "items[1].source", "must be a string"),
        ('[{}, {"labels": []}]', "items[1].labels", "unknown key"),
    ],
)
def test_a_wrong_items_field_is_named(raw: str, field: str, why: str) -> None:
    at, reason = error_of(raw, 2)
    assert at == field and why in reason
