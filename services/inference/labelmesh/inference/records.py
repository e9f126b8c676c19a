"""What the inference service's repositories take and return."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from labelmesh.v1.events_pb2 import (
    AutoAnnotationRules,
    ItemIngested,
    ModelBinding,
    PredictionCreated,
)


@dataclass(frozen=True)
class StoredItem:
    """An item as announced by ItemIngested, kept for AI Assist."""

    item_id: str
    project_id: str
    item: ItemIngested


@dataclass(frozen=True)
class StoredPrediction:
    """A prediction made for an item, by pre-labelling or AI Assist."""

    item_id: str
    project_id: str
    prediction: PredictionCreated


@dataclass(frozen=True)
class AutoAnnotationSetup:
    """A project's models and its auto-annotation rules (the rules carry the version)."""

    models: tuple[ModelBinding, ...]
    rules: AutoAnnotationRules


@dataclass(frozen=True)
class Judgement:
    """A person accepted or rejected one suggestion of a model."""

    model_id: str
    bucket: int  # the confidence bucket of the suggestion's score
    accepted: bool


@dataclass(frozen=True)
class BucketCounts:
    """How many suggestions of one confidence bucket were accepted and rejected."""

    accepted: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class ConfidenceBand:
    low: float
    high: float
    accepted: int
    rejected: int


@dataclass(frozen=True)
class MeasuredQuality:
    """A model's precision as measured by people's judgements of its suggestions."""

    accepted: int
    rejected: int
    precision: float
    buckets: tuple[ConfidenceBand, ...]


class Preprocess(StrEnum):
    """How an item becomes a remote model's input tensor (RemotePreprocess)."""

    TEXT = "text"
    TEXT_EMBEDDING = "text_embedding"
    IMAGE_RGB = "image_rgb"
    AUDIO_PCM = "audio_pcm"


class Postprocess(StrEnum):
    """How a remote model's output tensor becomes labels (RemotePostprocess)."""

    CLASS_PROBABILITIES = "class_probabilities"
    CLASS_LABEL = "class_label"
    BOXES = "boxes"
