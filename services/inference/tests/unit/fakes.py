"""Tiny deterministic models behind the model port, and the use cases wired
on the in-memory twins, for the use-case unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from labelmesh.core.capacity import Capacity
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.core.storage import LocalDiskStore
from labelmesh.inference.adapters.media_urls import MediaUrlReader
from labelmesh.inference.composition import InferenceUseCases, Repositories, use_cases
from labelmesh.inference.metrics import InferenceMetrics
from labelmesh.inference.models.base import Model, ModelInput, ModelSpec, Task, UndecodableInput
from labelmesh.inference.models.catalog import ZERO_SHOT
from labelmesh.inference.runtime import Batching, ModelPool
from labelmesh.testing.memory import InMemoryProjectDirectory, InMemoryUnitOfWork, MemoryState
from labelmesh.testing.twins.inference import (
    InMemoryItemRepository,
    InMemoryJudgementRepository,
    InMemoryModelRegistrations,
    InMemoryPredictionRepository,
    InMemorySetupRepository,
)
from labelmesh.v1.events_pb2 import DataType, Envelope, ModelBinding, ProjectSpec
from labelmesh.v1.geometry_pb2 import BoundingBox, Classification, Label
from labelmesh.v1.inference_service_pb2 import RemoteModel

TOPICS = "keyword-topics"
MAX_MEDIA_URL_BYTES = 1024
BOXES = "pixel-boxes"


class ZeroShot(Model):
    """Scores the project's classes: the first class named in the text wins."""

    spec = ModelSpec(ZERO_SHOT, "1", Task.CLASSIFICATION, DataType.DATA_TYPE_TEXT, (), "fake")

    def load(self) -> None:
        return None

    def prepare(self, item: ModelInput) -> Any:
        if not item.text:
            raise UndecodableInput("text", "the item has no text")
        return item

    def predict(self, prepared: Sequence[Any]) -> list[list[Label]]:
        ranked = []
        for item in prepared:
            named = [c for c in item.classes if c in item.text.lower()]
            others = [c for c in item.classes if c not in named]
            order = named[:1] + [c for c in item.classes if c not in named[:1]]
            scores = [0.96] + [0.04 / max(1, len(others))] * (len(order) - 1)
            if not named:
                scores = [1.0 / len(order)] * len(order)
            ranked.append(
                [
                    Label(classification=Classification(label=c), confidence=s)
                    for c, s in zip(order, scores, strict=True)
                ]
            )
        return ranked


class KeywordTopics(Model):
    """'sports' at 0.97 for a text about a match, else 'cooking' at 0.6."""

    def __init__(self, spec: ModelSpec | None = None) -> None:
        self.spec = spec or ModelSpec(
            TOPICS,
            "1",
            Task.CLASSIFICATION,
            DataType.DATA_TYPE_TEXT,
            ("sports", "cooking"),
            "fake",
        )
        self.batches: list[int] = []

    def load(self) -> None:
        return None

    def prepare(self, item: ModelInput) -> Any:
        if not item.text:
            raise UndecodableInput("text", "the item has no text")
        return item.text

    def predict(self, prepared: Sequence[Any]) -> list[list[Label]]:
        self.batches.append(len(prepared))
        return [
            [Label(classification=Classification(label="sports"), confidence=0.97)]
            if "match" in text.lower()
            else [Label(classification=Classification(label="cooking"), confidence=0.6)]
            for text in prepared
        ]


class PixelBoxes(Model):
    """One 'face' box whose confidence is the media's first byte / 255."""

    spec = ModelSpec(BOXES, "2", Task.DETECTION, DataType.DATA_TYPE_IMAGE, ("face",), "fake boxes")

    def load(self) -> None:
        return None

    def prepare(self, item: ModelInput) -> Any:
        if not item.media:
            raise UndecodableInput("media", "empty image")
        return item.media[0] / 255

    def predict(self, prepared: Sequence[Any]) -> list[list[Label]]:
        return [
            [Label(bounding_box=BoundingBox(label="face", width=2, height=2), confidence=score)]
            for score in prepared
        ]


class Unreachable(Exception):
    pass


class FakeRemote(KeywordTopics):
    """A 'remote' model: loads unless its server's url says it is down."""

    def __init__(self, spec: ModelSpec, remote: RemoteModel) -> None:
        super().__init__(spec)
        self.remote = remote

    def load(self) -> None:
        if "down" in self.remote.url:
            raise Unreachable("connection refused")


def connect(spec: ModelSpec, remote: RemoteModel) -> Model:
    if remote.preprocess not in ("text", "text_embedding"):
        raise ValueError(f"unknown preprocess {remote.preprocess!r}")
    return FakeRemote(spec, remote)


@dataclass
class Harness:
    state: MemoryState
    uow: InMemoryUnitOfWork
    repositories: Repositories
    store: LocalDiskStore
    urls: MediaUrlReader
    pool: ModelPool
    registry: CollectorRegistry
    cases: InferenceUseCases
    topics: KeywordTopics

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


def harness(tmp_path: Path) -> Harness:
    state = MemoryState()
    uow = InMemoryUnitOfWork(state)
    registry = CollectorRegistry()
    metrics = InferenceMetrics(registry)
    pool = ModelPool(metrics, Capacity(64), Batching(32, 0.0, 5.0))
    topics = KeywordTopics()
    for model in (ZeroShot(), topics, PixelBoxes()):
        pool.add(model)
    repositories = Repositories(
        projects=InMemoryProjectDirectory(state),
        items=InMemoryItemRepository(state),
        predictions=InMemoryPredictionRepository(state),
        setups=InMemorySetupRepository(state),
        registrations=InMemoryModelRegistrations(state),
        judgements=InMemoryJudgementRepository(state),
    )
    store = LocalDiskStore(tmp_path / "media")
    urls = MediaUrlReader(MAX_MEDIA_URL_BYTES, timeout_seconds=5.0)
    cases = use_cases(repositories, uow, pool, store, urls, metrics, connect)
    return Harness(state, uow, repositories, store, urls, pool, registry, cases, topics)


def text_project(**fields: Any) -> ProjectSpec:
    """Project p1: texts about sports or cooking, which the keyword-topics model labels."""
    return ProjectSpec(
        project_id="p1",
        data_type=DataType.DATA_TYPE_TEXT,
        classes=["sports", "cooking"],
        models=[ModelBinding(model_id=TOPICS)],
        **fields,
    )


def event(payload: Any, project_id: str = "p1", item_id: str = "") -> Envelope:
    return new_envelope(
        payload, producer="test", actor=user_actor("dana"), project_id=project_id, item_id=item_id
    )
