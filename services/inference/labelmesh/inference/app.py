"""Wiring of the inference service."""

from __future__ import annotations

from labelmesh.core.capacity import Capacity
from labelmesh.core.platform import Platform
from labelmesh.core.runner import ServiceDefinition
from labelmesh.core.storage import object_store_from_settings
from labelmesh.inference import handlers
from labelmesh.inference.adapters.repository import InferenceRepository
from labelmesh.inference.api import grpc, rest
from labelmesh.inference.config import InferenceSettings
from labelmesh.inference.metrics import InferenceMetrics
from labelmesh.inference.models.catalog import ZERO_SHOT, built_in_models
from labelmesh.inference.models.minilm import shared_encoder
from labelmesh.inference.runtime import ModelPool
from labelmesh.inference.usecases import SERVICE, Inference


def build(settings: InferenceSettings) -> ServiceDefinition:
    platform = Platform(SERVICE, settings)
    metrics = InferenceMetrics(platform.registry)
    capacity = Capacity(settings.max_items_in_flight)
    pool = ModelPool(
        metrics,
        capacity,
        max_batch_size=settings.max_batch_size,
        max_wait_seconds=settings.max_batch_wait_seconds,
        timeout_seconds=settings.model_timeout_seconds,
    )
    for model in built_in_models():
        pool.add(model)
    repository = InferenceRepository(platform.db)
    store = object_store_from_settings(settings)
    inference = Inference(
        repository, platform.uow, pool, store, metrics, lambda texts: shared_encoder().encode(texts)
    )
    zero_shot = pool.get(ZERO_SHOT)
    assert zero_shot is not None

    async def start() -> None:
        await repository.ensure_indexes()
        await store.ensure_ready()
        # The default text model loads at start; the others on first use.
        await zero_shot.load()

    async def model_ready() -> None:
        if not zero_shot.loaded:
            raise RuntimeError("the zero-shot model is not loaded")

    return ServiceDefinition(
        name=SERVICE,
        platform=platform,
        settings=settings,
        usecases=inference,
        router=rest.router(inference),
        grpc_services=[grpc.grpc_service(inference)],
        handlers=handlers.HANDLERS,
        batch_handler=handlers.on_fetch,
        consumes=handlers.CONSUMES,
        deps=handlers.Deps(inference),
        on_start=start,
        readiness={"model": model_ready},
        capacity=capacity,
    )
