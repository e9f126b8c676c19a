import pytest

from labelmesh.inference.domain import (
    bucket_bounds,
    confidence_bucket,
    decide,
    initial_rules,
    map_to_project,
    validate_rules,
    with_source,
)
from labelmesh.inference.models.base import ModelSpec, Task
from labelmesh.v1.events_pb2 import AutoAnnotationRules, AutoAnnotationStatus, ProjectSpec
from labelmesh.v1.geometry_pb2 import BoundingBox, Classification, Label, Transcription

SUCCESS = AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_SUCCESS
AWAITING = AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_AWAITING_REVIEW
NOTHING = AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_NO_SUGGESTION


def box(name: str, confidence: float) -> Label:
    return Label(
        bounding_box=BoundingBox(label=name, x=1, y=2, width=3, height=4), confidence=confidence
    )


def cls(name: str, confidence: float) -> Label:
    return Label(classification=Classification(label=name), confidence=confidence)


def test_a_label_map_renames_and_drops_unmapped_labels() -> None:
    mapped = map_to_project(
        [cls("tabby", 0.5), cls("Egyptian Mau", 0.3), box("face", 0.9), box("car", 0.8)],
        {"tabby": "cat", "Egyptian Mau": "cat", "face": "person"},
        ["cat", "person"],
    )
    assert [(lb.WhichOneof("kind"), lb.confidence) for lb in mapped] == [
        ("classification", 0.5),
        ("bounding_box", 0.9),
    ]
    assert mapped[0].classification.label == "cat"
    assert mapped[1].bounding_box.label == "person"
    assert mapped[1].bounding_box.width == 3


def test_without_a_map_only_project_classes_survive_and_unnamed_geometry_always() -> None:
    said = Label(transcription=Transcription(text="hello"), confidence=0.7)
    mapped = map_to_project([box("face", 0.9), box("dog", 0.9), said], {}, ["face"])
    assert [lb.WhichOneof("kind") for lb in mapped] == ["bounding_box", "transcription"]


def test_the_floor_drops_weak_regions_and_each_class_has_its_minimum() -> None:
    rules = AutoAnnotationRules(
        version=3, default_min_confidence=0.95, class_min_confidence={"cat": 0.6}, floor=0.3
    )
    accepted = decide([box("face", 0.97), box("face", 0.2), cls("cat", 0.7)], rules)
    assert accepted.status == SUCCESS
    assert [lb.confidence for lb in accepted.labels] == [0.97, 0.7]
    assert decide([box("face", 0.95)], rules).status == SUCCESS  # the minimum is inclusive
    assert decide([box("face", 0.949)], rules).status == AWAITING
    assert decide([box("face", 0.97), cls("cat", 0.5)], rules).status == AWAITING
    assert decide([box("face", 0.29)], rules) == decide([], rules)
    assert decide([], rules).status == NOTHING


def test_initial_rules_come_from_the_project_at_version_one() -> None:
    plain = initial_rules(ProjectSpec(auto_accept_threshold=0.8))
    assert (plain.version, plain.default_min_confidence, plain.floor) == (1, 0.8, 0.0)
    own = initial_rules(
        ProjectSpec(
            auto_accept_threshold=0.8,
            auto_annotation=AutoAnnotationRules(version=7, default_min_confidence=0.5, floor=0.1),
        )
    )
    assert (own.version, own.default_min_confidence, own.floor) == (1, 0.5, 0.1)


def test_rule_problems_name_the_field() -> None:
    rules = AutoAnnotationRules(
        default_min_confidence=1.5, class_min_confidence={"dog": 0.5, "cat": -1}, floor=0.2
    )
    assert validate_rules(rules, ["cat"]) == [
        ("rules.default_min_confidence", "must be between 0 and 1, not 1.5"),
        ("rules.class_min_confidence[cat]", "must be between 0 and 1, not -1.0"),
        ("rules.class_min_confidence[dog]", "'dog' is not a class of this project"),
    ]
    assert validate_rules(AutoAnnotationRules(default_min_confidence=0.9), ["cat"]) == []


def test_each_suggestion_gets_its_source_and_an_id_of_its_own() -> None:
    spec = ModelSpec("m", "1.2", Task.DETECTION, 2, ("face",), "test")
    stamped = with_source([box("face", 0.8), box("face", 0.6)], spec)
    assert [(s.source.model_id, s.source.model_version, s.source.score) for s in stamped] == [
        ("m", "1.2", pytest.approx(0.8)),
        ("m", "1.2", pytest.approx(0.6)),
    ]
    assert len({s.source.suggestion_id for s in stamped}) == 2


def test_confidence_buckets_cover_zero_to_one() -> None:
    assert [confidence_bucket(s) for s in (0.0, 0.05, 0.1, 0.55, 0.99, 1.0)] == [0, 0, 1, 5, 9, 9]
    assert bucket_bounds(9) == (0.9, 1.0)
