"""From a model's raw labels to suggestions and an auto-annotation decision.
Pure: no I/O."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from labelmesh.core.labels import class_of
from labelmesh.inference.models.base import ModelSpec
from labelmesh.v1.events_pb2 import AutoAnnotationRules, AutoAnnotationStatus, ProjectSpec
from labelmesh.v1.geometry_pb2 import Label, LabelSource

CONFIDENCE_BUCKETS = 10


def map_to_project(
    labels: Iterable[Label], label_map: Mapping[str, str], classes: Sequence[str]
) -> list[Label]:
    """Rename model labels to project classes and drop those without one.

    With a map, only mapped labels survive. Without one, a label survives when
    its name already is a project class. Unnamed geometry (a transcription)
    always survives. Of the classifications only the most likely is kept: an
    item has one class.
    """
    known = set(classes)
    kept: list[Label] = []
    classified = False
    for label in labels:
        name = class_of(label)
        if name is not None:
            target = label_map.get(name) if label_map else (name if name in known else None)
            if target is None:
                continue
            if label.WhichOneof("kind") == "classification":
                if classified:
                    continue
                classified = True
            renamed = Label()
            renamed.CopyFrom(label)
            kind = renamed.WhichOneof("kind")
            assert kind is not None
            getattr(renamed, kind).label = target
            label = renamed
        kept.append(label)
    return kept


def with_source(labels: Iterable[Label], spec: ModelSpec) -> list[Label]:
    """Stamp each label with its model and original score, as a new suggestion."""
    stamped = []
    for label in labels:
        copy = Label()
        copy.CopyFrom(label)
        copy.source.CopyFrom(
            LabelSource(
                model_id=spec.id,
                model_version=spec.version,
                score=label.confidence,
                suggestion_id=str(uuid.uuid4()),
            )
        )
        stamped.append(copy)
    return stamped


def initial_rules(project: ProjectSpec) -> AutoAnnotationRules:
    """Version 1 of a project's rules: its own, or one minimum for every class."""
    rules = AutoAnnotationRules()
    if project.HasField("auto_annotation"):
        rules.CopyFrom(project.auto_annotation)
    else:
        rules.default_min_confidence = project.auto_accept_threshold
    rules.version = 1
    return rules


def validate_rules(rules: AutoAnnotationRules, classes: Sequence[str]) -> list[tuple[str, str]]:
    """Problems as (field, reason); empty when the rules are sound."""
    problems = []
    for name, value in (
        ("default_min_confidence", rules.default_min_confidence),
        ("floor", rules.floor),
    ):
        if math.isnan(value) or not 0.0 <= value <= 1.0:
            problems.append((f"rules.{name}", f"must be between 0 and 1, not {value}"))
    known = set(classes)
    for name, value in sorted(rules.class_min_confidence.items()):
        field = f"rules.class_min_confidence[{name}]"
        if name not in known:
            problems.append((field, f"{name!r} is not a class of this project"))
        elif math.isnan(value) or not 0.0 <= value <= 1.0:
            problems.append((field, f"must be between 0 and 1, not {value}"))
    return problems


@dataclass(frozen=True)
class Decision:
    labels: list[Label]  # what survives the floor
    status: AutoAnnotationStatus


def min_confidence(rules: AutoAnnotationRules, label: Label) -> float:
    name = class_of(label)
    minimum: float = rules.default_min_confidence
    if name is not None and name in rules.class_min_confidence:
        minimum = rules.class_min_confidence[name]
    return minimum


def decide(labels: Sequence[Label], rules: AutoAnnotationRules) -> Decision:
    """Drop labels under the floor; accept when every other one meets its class's minimum."""
    kept = [label for label in labels if label.confidence >= rules.floor]
    if not kept:
        return Decision([], AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_NO_SUGGESTION)
    if all(label.confidence >= min_confidence(rules, label) for label in kept):
        return Decision(kept, AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_SUCCESS)
    return Decision(kept, AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_AWAITING_REVIEW)


def confidence_bucket(score: float) -> int:
    """The bucket index of a score: 0 for [0, 0.1), ... 9 for [0.9, 1]."""
    return min(CONFIDENCE_BUCKETS - 1, max(0, int(score * CONFIDENCE_BUCKETS)))


def bucket_bounds(index: int) -> tuple[float, float]:
    return index / CONFIDENCE_BUCKETS, (index + 1) / CONFIDENCE_BUCKETS
