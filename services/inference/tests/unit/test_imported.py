"""Predictions made in another tool, as the item's prediction."""

from __future__ import annotations

import pytest

from labelmesh.inference.imported import imported_prediction, imported_prediction_id
from labelmesh.v1.events_pb2 import (
    AutoAnnotationRules,
    AutoAnnotationStatus,
    DataType,
    ImportedPrediction,
    ItemIngested,
    ModelRef,
    PredictionSource,
    ProjectSpec,
)
from labelmesh.v1.geometry_pb2 import BoundingBox, Classification, Label

PROJECT = ProjectSpec(project_id="p1", data_type=DataType.DATA_TYPE_IMAGE, classes=["cat", "dog"])
RULES = AutoAnnotationRules(default_min_confidence=0.5, version=3)


def classified(name: str, confidence: float = 0.0) -> Label:
    return Label(classification=Classification(label=name), confidence=confidence)


def boxed(name: str, confidence: float = 0.0) -> Label:
    box = BoundingBox(label=name, x=1, y=2, width=3, height=4)
    return Label(bounding_box=box, confidence=confidence)


def item(*predictions: ImportedPrediction, source: str = "label-studio") -> ItemIngested:
    return ItemIngested(
        data_type=DataType.DATA_TYPE_IMAGE, source=source, imported_predictions=predictions
    )


def test_imported_labels_keep_their_scores_and_name_the_tools_models() -> None:
    prediction = imported_prediction(
        "i1",
        item(
            ImportedPrediction(
                labels=[boxed("cat", 0.4), boxed("dog")], score=0.8, model_version="yolo-v8"
            ),
            ImportedPrediction(labels=[boxed("cat", 0.7)], score=0.9, model_version="sam-2"),
        ),
        PROJECT,
        RULES,
    )
    assert list(prediction.models) == [
        ModelRef(id="label-studio", version="yolo-v8"),
        ModelRef(id="label-studio", version="sam-2"),
    ]
    assert prediction.model == prediction.models[0] and prediction.origin == "label-studio"
    shown = [
        (label.bounding_box.label, label.confidence, label.source.model_version, label.source.score)
        for label in prediction.labels
    ]
    assert shown == [
        ("dog", pytest.approx(0.8), "yolo-v8", pytest.approx(0.8)),
        ("cat", pytest.approx(0.7), "sam-2", pytest.approx(0.7)),
        ("cat", pytest.approx(0.4), "yolo-v8", pytest.approx(0.4)),
    ]
    suggestion_ids = {label.source.suggestion_id for label in prediction.labels}
    assert len(suggestion_ids) == 3 and "" not in suggestion_ids
    assert prediction.source == PredictionSource.PREDICTION_SOURCE_AUTO
    assert (prediction.threshold, prediction.rule_version) == (0.5, 3)


def test_an_imported_prediction_is_never_auto_accepted() -> None:
    certain = ImportedPrediction(labels=[classified("cat", 1.0)], score=1.0, model_version="v1")
    prediction = imported_prediction("i1", item(certain), PROJECT, RULES)
    assert not prediction.auto_accepted
    assert prediction.status == AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_AWAITING_REVIEW


def test_labels_outside_the_schema_are_dropped_and_one_class_is_kept() -> None:
    prediction = imported_prediction(
        "i1",
        item(
            ImportedPrediction(
                labels=[classified("cat", 0.3), classified("dog", 0.6), classified("horse", 0.9)],
                model_version="v1",
            )
        ),
        PROJECT,
        RULES,
    )
    assert [label.classification.label for label in prediction.labels] == ["dog"]
    nothing = imported_prediction(
        "i1", item(ImportedPrediction(labels=[classified("horse", 0.9)])), PROJECT, RULES
    )
    assert list(nothing.labels) == []
    assert nothing.status == AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_NO_SUGGESTION
    assert nothing.skipped_reason == "no imported label is a class of this project"


def test_an_items_imported_prediction_keeps_its_id() -> None:
    once = imported_prediction("i1", item(ImportedPrediction()), PROJECT, RULES)
    again = imported_prediction("i1", item(ImportedPrediction()), PROJECT, RULES)
    assert once.prediction_id == again.prediction_id == imported_prediction_id("i1", "label-studio")
    assert imported_prediction_id("i2", "label-studio") != once.prediction_id
    unnamed = imported_prediction("i1", item(ImportedPrediction(), source=""), PROJECT, RULES)
    assert (unnamed.model.id, unnamed.origin) == ("import", "import")
