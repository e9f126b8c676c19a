"""Wiring of the annotation service."""

from __future__ import annotations

from labelmesh.annotation import handlers
from labelmesh.annotation.adapters import legacy_tasks
from labelmesh.annotation.adapters.repository import AnnotationRepository
from labelmesh.annotation.adapters.task_queue import TaskQueue
from labelmesh.annotation.api import grpc, rest
from labelmesh.annotation.config import SERVICE, AnnotationSettings
from labelmesh.annotation.metrics import AnnotationMetrics
from labelmesh.annotation.usecases import Annotation
from labelmesh.core.platform import Platform
from labelmesh.core.runner import ServiceDefinition


def build(settings: AnnotationSettings) -> ServiceDefinition:
    platform = Platform(SERVICE, settings)
    repository = AnnotationRepository(platform.db)
    queue = TaskQueue(platform.db)
    metrics = AnnotationMetrics(platform.registry)
    annotation = Annotation(repository, queue, platform.uow, metrics)

    async def prepare_collections() -> None:
        await repository.ensure_indexes()
        await queue.ensure_indexes()
        await legacy_tasks.upgrade(platform.db)

    return ServiceDefinition(
        name=SERVICE,
        platform=platform,
        settings=settings,
        usecases=annotation,
        router=rest.router(annotation),
        grpc_services=[grpc.grpc_service(annotation)],
        handlers=handlers.HANDLERS,
        batch_handler=handlers.on_fetch,
        consumes=handlers.CONSUMES,
        deps=handlers.Deps(platform.uow, repository, metrics),
        on_start=prepare_collections,
    )
