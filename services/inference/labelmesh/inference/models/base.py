"""The model port: what every built-in and remote model implements.

A model turns one item into a list of labels in the shared geometry, each with
a confidence in [0, 1]. Label names are the model's own (for example "face"
or "PERSON"); the platform maps them to a project's classes, attaches their
source and applies the auto-annotation rules.

All three methods block and run on a worker thread, never on the event loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from labelmesh.v1.geometry_pb2 import Label


class Task(StrEnum):
    CLASSIFICATION = "classification"
    DETECTION = "detection"
    SEGMENTATION = "segmentation"
    KEYPOINTS = "keypoints"
    NER = "ner"
    SENTIMENT = "sentiment"
    TRANSCRIPTION = "transcription"


@dataclass(frozen=True)
class ModelSpec:
    """What the registry records about a model."""

    id: str
    version: str
    task: Task
    data_type: int  # a labelmesh.v1.DataType value
    # The label names it can produce; empty when it scores the project's own
    # classes (zero-shot) or produces unlabelled geometry (transcription).
    labels: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class ModelInput:
    """One item as a model sees it."""

    text: str = ""
    media: bytes = b""
    content_type: str = ""
    # The project's classes, for models that score them (zero-shot).
    classes: tuple[str, ...] = ()


class UndecodableInput(ValueError):
    """The item cannot be read by this model; other items are unaffected."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Model(ABC):
    spec: ModelSpec

    @abstractmethod
    def load(self) -> None:
        """Load the weights. Called once per process, before any prediction."""

    @abstractmethod
    def prepare(self, item: ModelInput) -> Any:
        """Decode one item. Raises UndecodableInput when it cannot be read."""

    @abstractmethod
    def predict(self, prepared: Sequence[Any]) -> list[list[Label]]:
        """Labels for a batch of prepared items, one list per item, in order."""
