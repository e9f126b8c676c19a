"""Predictions made in another tool that come in with their item (ItemIngested's
`imported_predictions`). They become the item's pre-labelling prediction, its
models named after the tool and the version the tool gave, their scores kept;
they are offered as suggestions and never auto-accepted, as their scores
were not calibrated against the project's rules. Pure: no I/O."""

from __future__ import annotations

import uuid

from labelmesh.inference.domain import map_to_project
from labelmesh.v1.events_pb2 import (
    AutoAnnotationRules,
    AutoAnnotationStatus,
    ItemIngested,
    ModelRef,
    PredictionCreated,
    PredictionSource,
    ProjectSpec,
)
from labelmesh.v1.geometry_pb2 import Label, LabelSource

# The namespace of imported predictions' ids (uuid5).
IMPORTED_IDS = uuid.UUID("0c2b7d55-8e0a-4a43-b6f6-2f3f5e4a9d17")
# The tool named when an import does not say where it came from.
UNNAMED_TOOL = "import"


def imported_prediction_id(item_id: str, tool: str) -> str:
    """The id of an item's imported prediction: the same each time it is imported."""
    return str(uuid.uuid5(IMPORTED_IDS, f"{item_id}\n{tool}"))


def imported_prediction(
    item_id: str, item: ItemIngested, project: ProjectSpec, rules: AutoAnnotationRules
) -> PredictionCreated:
    """The item's imported predictions as one prediction of the tool's models.

    Each label keeps its own confidence, or takes its prediction's score when it
    has none, and records it as its source's score. Labels that are not classes
    of the project are dropped, and of the classifications only the most likely
    is kept, as for LabelMesh's own models."""
    tool = item.source or UNNAMED_TOOL
    models: list[ModelRef] = []
    stamped: list[Label] = []
    for imported in item.imported_predictions:
        model = ModelRef(id=tool, version=imported.model_version)
        if model not in models:
            models.append(model)
        for label in imported.labels:
            copy = Label()
            copy.CopyFrom(label)
            copy.confidence = label.confidence or imported.score
            copy.source.CopyFrom(
                LabelSource(
                    model_id=model.id,
                    model_version=model.version,
                    score=copy.confidence,
                    suggestion_id=str(uuid.uuid4()),
                )
            )
            stamped.append(copy)
    likeliest_first = sorted(stamped, key=lambda label: label.confidence, reverse=True)
    kept = map_to_project(likeliest_first, {}, project.classes)
    prediction = PredictionCreated(
        prediction_id=imported_prediction_id(item_id, tool),
        model=models[0] if models else ModelRef(id=tool),
        models=models,
        labels=kept,
        auto_accepted=False,
        threshold=rules.default_min_confidence,
        status=AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_AWAITING_REVIEW
        if kept
        else AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_NO_SUGGESTION,
        rule_version=rules.version,
        source=PredictionSource.PREDICTION_SOURCE_AUTO,
        origin=tool,
    )
    if not kept:
        prediction.skipped_reason = "no imported label is a class of this project"
    return prediction
