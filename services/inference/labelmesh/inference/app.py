"""Wiring of the inference service."""

from __future__ import annotations

from dataclasses import dataclass

from labelmesh.core.access import ProjectGate, directory_organizations
from labelmesh.core.capacity import Capacity
from labelmesh.core.dispatch import Dispatcher
from labelmesh.core.platform import Platform
from labelmesh.core.projects import MongoProjectDirectory
from labelmesh.core.runner import ServiceDefinition
from labelmesh.core.storage import ObjectStore, object_store_from_settings
from labelmesh.inference.adapters.media_urls import MediaUrlReader
from labelmesh.inference.adapters.oip import RemoteOipModel
from labelmesh.inference.adapters.repository import (
    MongoItemRepository,
    MongoJudgementRepository,
    MongoModelRegistrations,
    MongoPredictionRepository,
    MongoSetupRepository,
)
from labelmesh.inference.api import grpc, rest
from labelmesh.inference.composition import InferenceUseCases, Repositories, use_cases
from labelmesh.inference.config import SERVICE, InferenceSettings
from labelmesh.inference.handlers import InferenceFetch
from labelmesh.inference.metrics import InferenceMetrics
from labelmesh.inference.models.base import Model, ModelSpec
from labelmesh.inference.models.catalog import ZERO_SHOT, built_in_models
from labelmesh.inference.models.minilm import shared_encoder
from labelmesh.inference.runtime import Batching, ModelPool
from labelmesh.inference.secured import SecuredInference
from labelmesh.v1.inference_service_pb2 import RemoteModel


@dataclass(frozen=True)
class InferenceApp:
    use_cases: InferenceUseCases
    repositories: Repositories
    store: ObjectStore
    pool: ModelPool
    dispatcher: Dispatcher[InferenceFetch]
    service: ServiceDefinition


def connect_remote(spec: ModelSpec, remote: RemoteModel) -> Model:
    """A remote model over the Open Inference Protocol, embedding texts with MiniLM."""
    return RemoteOipModel(spec, remote, lambda texts: shared_encoder().encode(texts))


def build_app(settings: InferenceSettings) -> InferenceApp:
    platform = Platform(SERVICE, settings)
    metrics = InferenceMetrics(platform.registry)
    capacity = Capacity(settings.max_items_in_flight)
    batching = Batching(
        settings.max_batch_size, settings.max_batch_wait_seconds, settings.model_timeout_seconds
    )
    pool = ModelPool(metrics, capacity, batching)
    for model in built_in_models():
        pool.add(model)
    predictions = MongoPredictionRepository(platform.db)
    repositories = Repositories(
        projects=MongoProjectDirectory(platform.db),
        items=MongoItemRepository(platform.db),
        predictions=predictions,
        setups=MongoSetupRepository(platform.db),
        registrations=MongoModelRegistrations(platform.db),
        judgements=MongoJudgementRepository(platform.db),
    )
    store = object_store_from_settings(settings)
    urls = MediaUrlReader(settings.max_media_url_bytes, settings.media_url_timeout_seconds)
    cases = use_cases(repositories, platform.uow, pool, store, urls, metrics, connect_remote)
    gate = ProjectGate(directory_organizations(repositories.projects.get))
    secured = SecuredInference(cases, gate)
    zero_shot = pool.get(ZERO_SHOT)
    assert zero_shot is not None

    async def start() -> None:
        await predictions.ensure_indexes()
        await store.ensure_ready()
        # The default text model loads at start; the others on first use.
        await zero_shot.load()

    async def model_ready() -> None:
        if not zero_shot.loaded:
            raise RuntimeError("the zero-shot model is not loaded")

    service = ServiceDefinition(
        platform=platform,
        router=rest.router(secured),
        grpc_services=[grpc.grpc_service(secured, platform.authenticator)],
        events=cases.dispatcher,
        on_start=start,
        readiness={"model": model_ready},
        # Fetching pauses while the models' queues hold this many items.
        capacity=capacity,
    )
    return InferenceApp(cases, repositories, store, pool, cases.dispatcher, service)


def build(settings: InferenceSettings) -> ServiceDefinition:
    return build_app(settings).service
