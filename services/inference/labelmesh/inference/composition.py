"""The inference use cases, built over the ports: MongoDB in the service
(`app.py`), the in-memory twins in unit tests."""

from __future__ import annotations

from dataclasses import dataclass

from labelmesh.core.dispatch import Dispatcher
from labelmesh.core.projects import ProjectDirectory
from labelmesh.core.storage import ObjectStore
from labelmesh.core.uow import UnitOfWork
from labelmesh.inference.assist import Assist
from labelmesh.inference.auto_annotation import AutoAnnotation
from labelmesh.inference.config import SERVICE
from labelmesh.inference.feedback import Feedback
from labelmesh.inference.handlers import TABLE, InferenceFetch, fetch_starter
from labelmesh.inference.metrics import InferenceMetrics
from labelmesh.inference.ports import (
    ItemRepository,
    JudgementRepository,
    MediaUrls,
    ModelRegistrations,
    PredictionRepository,
    SetupRepository,
)
from labelmesh.inference.prelabel import Prelabelling
from labelmesh.inference.registry import ConnectRemote, ModelRegistry
from labelmesh.inference.running import ModelRuns
from labelmesh.inference.runtime import ModelPool


@dataclass(frozen=True)
class Repositories:
    projects: ProjectDirectory
    items: ItemRepository
    predictions: PredictionRepository
    setups: SetupRepository
    registrations: ModelRegistrations
    judgements: JudgementRepository


@dataclass(frozen=True)
class InferenceUseCases:
    registry: ModelRegistry
    auto_annotation: AutoAnnotation
    prelabelling: Prelabelling
    assist: Assist
    feedback: Feedback
    dispatcher: Dispatcher[InferenceFetch]


def use_cases(
    repositories: Repositories,
    uow: UnitOfWork,
    pool: ModelPool,
    store: ObjectStore,
    urls: MediaUrls,
    metrics: InferenceMetrics,
    connect: ConnectRemote,
) -> InferenceUseCases:
    """Every use case of the service, and the dispatcher of the events it consumes."""
    r = repositories
    feedback = Feedback(r.judgements, metrics)
    registry = ModelRegistry(r.registrations, uow, pool, feedback, connect)
    auto_annotation = AutoAnnotation(r.projects, r.setups, registry, uow)
    runs = ModelRuns(registry, store, urls)
    prelabelling = Prelabelling(r.projects, auto_annotation, runs, r.items, r.predictions, metrics)
    assist = Assist(auto_annotation, registry, runs, r.items, r.predictions, uow)
    dispatcher = Dispatcher(
        TABLE, uow, consumer=SERVICE, start=fetch_starter(r.projects, prelabelling, feedback)
    )
    return InferenceUseCases(registry, auto_annotation, prelabelling, assist, feedback, dispatcher)
