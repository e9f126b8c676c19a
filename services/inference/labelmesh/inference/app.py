"""Wiring of the inference service."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from labelmesh.core.platform import Platform
from labelmesh.core.runner import ServiceDefinition
from labelmesh.inference import handlers
from labelmesh.inference.adapters.repository import InferenceRepository
from labelmesh.inference.api import grpc, rest
from labelmesh.inference.config import InferenceSettings
from labelmesh.inference.metrics import InferenceMetrics
from labelmesh.inference.usecases import SERVICE, Inference, TextClassifier


def build(settings: InferenceSettings) -> ServiceDefinition:
    platform = Platform(SERVICE, settings)
    metrics = InferenceMetrics(platform.registry)
    # One model thread: numpy's BLAS already spreads a batch over the cores.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
    classifier = TextClassifier(
        executor, metrics, settings.max_batch_size, settings.max_batch_wait_seconds
    )
    inference = Inference(InferenceRepository(platform.db), platform.uow, classifier, metrics)

    async def model_ready() -> None:
        _ = classifier.encoder

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
        on_start=classifier.load,
        readiness={"model": model_ready},
    )
