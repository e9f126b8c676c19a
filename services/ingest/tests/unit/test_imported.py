"""Sources, imported annotations and predictions: parsed from proto-JSON and checked."""

from __future__ import annotations

from typing import Any

import pytest

from labelmesh.core.errors import InvalidField
from labelmesh.ingest.imported import (
    MAX_IMPORTED,
    annotations_of,
    checked_source,
    checked_source_uri,
    label_problem,
    predictions_of,
)
from labelmesh.v1.events_pb2 import ImportedAnnotation, ImportedPrediction
from labelmesh.v1.geometry_pb2 import BoundingBox, Classification, Label

CAT = {"classification": {"label": "cat"}, "confidence": 1}


def error_of(call: Any, *args: Any) -> tuple[str, str]:
    with pytest.raises(InvalidField) as error:
        call(*args)
    return error.value.field, error.value.reason


def test_a_source_is_a_short_lowercase_tool_name_or_the_default() -> None:
    assert checked_source("", "upload", "s") == "upload"
    assert checked_source("label-studio", "upload", "s") == "label-studio"
    for bad in ("Label-Studio", "-cvat", "a" * 33, "coco json", "cvat/2"):
        assert error_of(checked_source, bad, "upload", "items[0].source")[0] == "items[0].source"
    assert error_of(checked_source_uri, "x" * 2049, "items[0].source_uri")[0] == (
        "items[0].source_uri"
    )


def test_annotations_are_parsed_from_proto_json_with_their_time_and_origin() -> None:
    raw = [
        {
            "labels": [
                CAT,
                {"bounding_box": {"label": "dog", "x": 1, "y": 2, "width": 3, "height": 4}},
            ],
            "annotator": "alice@ls",
            "created_at": "2025-03-04T05:06:07Z",
            "origin_id": "ls-17",
        }
    ]
    (annotation,) = annotations_of(raw, "items[3].annotations")
    assert annotation.annotator == "alice@ls" and annotation.origin_id == "ls-17"
    assert annotation.created_at.ToJsonString() == "2025-03-04T05:06:07Z"
    assert [label.WhichOneof("kind") for label in annotation.labels] == [
        "classification",
        "bounding_box",
    ]
    assert annotation.labels[1].bounding_box.label == "dog"


def test_messages_pass_through_and_are_checked_too() -> None:
    given = ImportedAnnotation(labels=[Label(classification=Classification(label="cat"))])
    assert annotations_of([given], "a") == (given,)
    box = Label(bounding_box=BoundingBox(label="cat", width=0, height=5))
    assert error_of(annotations_of, [ImportedAnnotation(labels=[box])], "a")[0] == "a[0].labels[0]"


@pytest.mark.parametrize(
    ("raw", "field", "why"),
    [
        ([{"labels": []}], "items[3].annotations[0].labels", "at least one label"),
        ([{"annotator": "bob"}], "items[3].annotations[0].labels", "at least one label"),
        (
            [{"labels": [CAT, {"classification": {"lable": "x"}}]}],
            "items[3].annotations[0].labels[1]",
            "lable",
        ),
        ([{"labels": [CAT, {}]}], "items[3].annotations[0].labels[1]", "needs a kind"),
        ([{"labels": [{"classification": {}}]}], "items[3].annotations[0].labels[0]", "class name"),
        (
            [{"labels": [{"classification": {"label": "c"}, "confidence": 2}]}],
            "items[3].annotations[0].labels[0]",
            "confidence",
        ),
        ([{"labels": "cat"}], "items[3].annotations[0].labels", "must be a list"),
        ([{"labels": [CAT], "created_at": "yesterday"}], "items[3].annotations[0]", "created_at"),
        ([{"labels": [CAT], "who": "x"}], "items[3].annotations[0]", "who"),
        (["cat"], "items[3].annotations[0]", "must be an object"),
        ([{"labels": [CAT]}] * (MAX_IMPORTED + 1), "items[3].annotations", "at most"),
    ],
)
def test_a_bad_annotation_is_named_down_to_its_label(raw: list[Any], field: str, why: str) -> None:
    at, reason = error_of(annotations_of, raw, "items[3].annotations")
    assert at == field
    assert why in reason


def test_predictions_keep_their_score_and_model_and_refuse_a_score_out_of_range() -> None:
    (prediction,) = predictions_of(
        [{"labels": [CAT], "score": 0.8, "model_version": "yolo-v8", "origin_id": "p1"}], "p"
    )
    assert prediction == ImportedPrediction(
        labels=[Label(classification=Classification(label="cat"), confidence=1)],
        score=0.8,
        model_version="yolo-v8",
        origin_id="p1",
    )
    assert error_of(predictions_of, [{"labels": [CAT], "score": 1.5}], "p") == (
        "p[0].score",
        "1.5 is not in [0, 1]",
    )
    # A prediction may be empty: the model found nothing.
    assert predictions_of([{"score": 0.1}], "p")[0].labels == []


def test_geometry_that_cannot_be_drawn_is_refused() -> None:
    assert label_problem(Label(classification=Classification(label="a"))) is None
    bad = [
        {"polygon": {"label": "a", "points": [{"x": 1, "y": 1}]}},
        {"mask": {"label": "a", "width": 2, "height": 2, "counts": [1, 1]}},
        {"text_span": {"label": "a", "start": 4, "end": 4}},
        {"time_segment": {"label": "a", "start_seconds": 3, "end_seconds": 1}},
        {"keypoints": {"label": "a"}},
    ]
    for raw in bad:
        field, reason = error_of(annotations_of, [{"labels": [raw]}], "a")
        assert field == "a[0].labels[0]" and reason.startswith(next(iter(raw)))
