"""Projects, label schemas and annotation validation. Pure: no I/O."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from labelmesh.core import review_policy as policies
from labelmesh.core.errors import InvalidField
from labelmesh.v1.events_pb2 import (
    AutoAnnotationRules,
    DataType,
    ModelBinding,
    ProjectSpec,
    ReviewPolicy,
)
from labelmesh.v1.geometry_pb2 import Label

MAX_CLASSES = 1000
MAX_NAME = 200
# Projects per page of ListProjects.
DEFAULT_PAGE, MAX_PAGE = 50, 200

# Which label kinds make sense for each data type.
KINDS_FOR_DATA_TYPE: dict[int, frozenset[str]] = {
    DataType.DATA_TYPE_TEXT: frozenset({"classification", "text_span"}),
    DataType.DATA_TYPE_IMAGE: frozenset(
        {"classification", "bounding_box", "polygon", "mask", "keypoints"}
    ),
    DataType.DATA_TYPE_AUDIO: frozenset({"classification", "transcription", "time_segment"}),
    DataType.DATA_TYPE_VIDEO: frozenset(
        {
            "classification",
            "bounding_box",
            "polygon",
            "mask",
            "keypoints",
            "transcription",
            "time_segment",
        }
    ),
}
# Kinds whose geometry carries no class name.
UNNAMED_KINDS = frozenset({"transcription"})


@dataclass(frozen=True)
class NewProject:
    name: str
    data_type: int
    classes: Sequence[str]
    auto_accept_threshold: float
    review_min_agreement: float = 0.0
    models: Sequence[ModelBinding] = ()
    auto_annotation: AutoAnnotationRules | None = None
    review_policy: ReviewPolicy | None = None


def create_project(request: NewProject) -> ProjectSpec:
    """Validate a project request and give it an id."""
    name = request.name.strip()
    if not name:
        raise InvalidField("name", "must not be empty")
    if len(name) > MAX_NAME:
        raise InvalidField("name", f"at most {MAX_NAME} characters")
    if request.data_type not in KINDS_FOR_DATA_TYPE:
        raise InvalidField(
            "data_type", f"must be one of TEXT, IMAGE, AUDIO, VIDEO, not {request.data_type!r}"
        )
    if not request.classes:
        raise InvalidField("classes", "at least one class is required")
    if len(request.classes) > MAX_CLASSES:
        raise InvalidField("classes", f"at most {MAX_CLASSES} classes")
    seen: set[str] = set()
    for index, cls in enumerate(request.classes):
        if not cls.strip() or cls != cls.strip():
            raise InvalidField(f"classes[{index}]", "must be non-empty with no surrounding spaces")
        if cls in seen:
            raise InvalidField(f"classes[{index}]", f"duplicate class {cls!r}")
        seen.add(cls)
    for field_name in ("auto_accept_threshold", "review_min_agreement"):
        value = getattr(request, field_name)
        if not (0.0 <= value <= 1.0) or math.isnan(value):
            raise InvalidField(field_name, f"must be between 0 and 1, not {value}")
    _validate_models(request.models, seen)
    if request.auto_annotation is not None:
        _validate_rules(request.auto_annotation, seen)
    if request.review_policy is not None:
        policies.validate(request.review_policy)
    project = ProjectSpec(
        project_id=str(uuid.uuid4()),
        name=name,
        data_type=request.data_type,  # type: ignore[arg-type]
        classes=list(request.classes),
        auto_accept_threshold=request.auto_accept_threshold,
        review_min_agreement=request.review_min_agreement,
        models=request.models,
    )
    if request.auto_annotation is not None:
        project.auto_annotation.CopyFrom(request.auto_annotation)
        project.auto_annotation.version = 1
    if request.review_policy is not None:
        project.review_policy.CopyFrom(request.review_policy)
        project.review_policy.version = 1
    return project


@dataclass(frozen=True)
class ProjectScope:
    """The projects a caller may list: every project of `organization_id` when
    `project_ids` is None, else those of `project_ids` that `readable` allows."""

    organization_id: str
    project_ids: frozenset[str] | None = None
    readable: Callable[[ProjectSpec], bool] = lambda _: True


def page_size(asked: int) -> int:
    """The number of projects a page holds; 0 asks for the default."""
    if asked < 0 or asked > MAX_PAGE:
        raise InvalidField("page_size", f"must be between 0 and {MAX_PAGE}, not {asked}")
    return asked or DEFAULT_PAGE


def page_token(position: int) -> str:
    """The token of the page that starts below `position` in the organisation's list."""
    return str(position)


def position_of(token: str) -> int | None:
    """The position a page token stops before; None for the first page."""
    if not token:
        return None
    if not token.isdigit() or int(token) <= 0:
        raise InvalidField("page_token", "is not a token this API returned")
    return int(token)


def _validate_models(models: Sequence[ModelBinding], classes: set[str]) -> None:
    """Label maps must lead to project classes; which models exist is the
    inference service's to check."""
    seen: set[str] = set()
    for index, binding in enumerate(models):
        at = f"models[{index}]"
        if not binding.model_id.strip():
            raise InvalidField(f"{at}.model_id", "must not be empty")
        if binding.model_id in seen:
            raise InvalidField(f"{at}.model_id", f"{binding.model_id!r} is listed twice")
        seen.add(binding.model_id)
        for source, target in sorted(binding.label_map.items()):
            if target not in classes:
                raise InvalidField(
                    f"{at}.label_map[{source}]", f"{target!r} is not a class of this project"
                )


def _validate_rules(rules: AutoAnnotationRules, classes: set[str]) -> None:
    for name in ("default_min_confidence", "floor"):
        value = getattr(rules, name)
        if not (0.0 <= value <= 1.0) or math.isnan(value):
            raise InvalidField(f"auto_annotation.{name}", f"must be between 0 and 1, not {value}")
    for name, value in sorted(rules.class_min_confidence.items()):
        at = f"auto_annotation.class_min_confidence[{name}]"
        if name not in classes:
            raise InvalidField(at, f"{name!r} is not a class of this project")
        if not (0.0 <= value <= 1.0) or math.isnan(value):
            raise InvalidField(at, f"must be between 0 and 1, not {value}")


def validate_labels(
    labels: Sequence[Label], project: ProjectSpec, item_data_type: int, text: str
) -> None:
    """Check submitted labels against the project's schema and the item.

    Raises InvalidField naming the first offending field.
    """
    if not labels:
        raise InvalidField("labels", "at least one label is required")
    allowed = KINDS_FOR_DATA_TYPE.get(item_data_type, frozenset())
    classes = set(project.classes)
    classifications = 0
    for index, label in enumerate(labels):
        at = f"labels[{index}]"
        kind = label.WhichOneof("kind")
        if kind is None:
            raise InvalidField(at, "has no geometry; set one of " + ", ".join(sorted(allowed)))
        if kind not in allowed:
            raise InvalidField(
                f"{at}.{kind}",
                f"not allowed for {DataType.Name(item_data_type)} items; use one of "
                + ", ".join(sorted(allowed)),
            )
        if not 0.0 <= label.confidence <= 1.0:
            raise InvalidField(
                f"{at}.confidence", f"must be between 0 and 1, not {label.confidence}"
            )
        geometry = getattr(label, kind)
        class_name = "" if kind in UNNAMED_KINDS else geometry.label
        if kind not in UNNAMED_KINDS and class_name not in classes:
            raise InvalidField(
                f"{at}.{kind}.label",
                f"{class_name!r} is not a class of this project; expected one of "
                + ", ".join(sorted(classes)),
            )
        if kind == "classification":
            classifications += 1
            if classifications > 1:
                raise InvalidField(f"{at}.classification", "only one classification per item")
        _validate_geometry(f"{at}.{kind}", kind, geometry, text)


def _validate_geometry(at: str, kind: str, g: object, text: str) -> None:
    if kind == "bounding_box":
        if g.width <= 0 or g.height <= 0:  # type: ignore[attr-defined]
            raise InvalidField(f"{at}.width", "width and height must be positive")
    elif kind == "polygon":
        if len(g.points) < 3:  # type: ignore[attr-defined]
            raise InvalidField(f"{at}.points", "a polygon needs at least 3 points")
    elif kind == "mask":
        if sum(g.counts) != g.width * g.height:  # type: ignore[attr-defined]
            raise InvalidField(f"{at}.counts", "run lengths must sum to width * height")
    elif kind == "text_span":
        if not g.start < g.end <= len(text):  # type: ignore[attr-defined]
            raise InvalidField(f"{at}.end", f"span must satisfy start < end <= {len(text)}")
    elif kind == "keypoints":
        if not g.points:  # type: ignore[attr-defined]
            raise InvalidField(f"{at}.points", "at least one keypoint is required")
    elif kind == "time_segment":
        if not 0 <= g.start_seconds < g.end_seconds:  # type: ignore[attr-defined]
            raise InvalidField(f"{at}.end_seconds", "must be after start_seconds, both >= 0")
