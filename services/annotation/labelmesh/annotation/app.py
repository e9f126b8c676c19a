"""Wiring of the annotation service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from labelmesh.annotation.adapters import legacy_tasks
from labelmesh.annotation.adapters.annotations import MongoAnnotationRepository
from labelmesh.annotation.adapters.projects import MongoProjectRepository
from labelmesh.annotation.adapters.task_queue import MongoTaskQueue
from labelmesh.annotation.adapters.tasks import MongoTaskRepository
from labelmesh.annotation.api import grpc, rest
from labelmesh.annotation.config import SERVICE, AnnotationSettings
from labelmesh.annotation.handlers import TABLE, AnnotationFetch
from labelmesh.annotation.metrics import AnnotationMetrics
from labelmesh.annotation.ports import (
    AnnotationRepository,
    AnnotationStores,
    ProjectRepository,
    TaskQueue,
    TaskRepository,
)
from labelmesh.annotation.usecases import Annotation
from labelmesh.core.dispatch import Dispatcher
from labelmesh.core.platform import Platform
from labelmesh.core.runner import ServiceDefinition
from labelmesh.core.uow import UnitOfWork
from labelmesh.v1.events_pb2 import Envelope


@dataclass(frozen=True)
class AnnotationApp:
    """The annotation service's parts, wired."""

    annotation: Annotation
    projects: ProjectRepository
    tasks: TaskRepository
    queue: TaskQueue
    annotations: AnnotationRepository
    dispatcher: Dispatcher[AnnotationFetch]
    service: ServiceDefinition


def dispatcher(
    uow: UnitOfWork,
    projects: ProjectRepository,
    tasks: TaskRepository,
    annotations: AnnotationRepository,
    metrics: AnnotationMetrics,
) -> Dispatcher[AnnotationFetch]:
    """The dispatcher of annotation's events over the given repositories."""

    async def start(_: Sequence[Envelope]) -> AnnotationFetch:
        return AnnotationFetch(projects, tasks, annotations, metrics)

    return Dispatcher(TABLE, uow, consumer=SERVICE, start=start)


def build_app(settings: AnnotationSettings) -> AnnotationApp:
    platform = Platform(SERVICE, settings)
    projects = MongoProjectRepository(platform.db)
    tasks = MongoTaskRepository(platform.db)
    queue = MongoTaskQueue(platform.db)
    annotations = MongoAnnotationRepository(platform.db)
    metrics = AnnotationMetrics(platform.registry)
    annotation = Annotation(
        AnnotationStores(projects, tasks, queue, annotations, platform.uow), metrics
    )
    events = dispatcher(platform.uow, projects, tasks, annotations, metrics)

    async def prepare_collections() -> None:
        await projects.ensure_indexes()
        await tasks.ensure_indexes()
        await queue.ensure_indexes()
        await annotations.ensure_indexes()
        await legacy_tasks.upgrade(platform.db)

    service = ServiceDefinition(
        platform=platform,
        router=rest.router(annotation),
        grpc_services=[grpc.grpc_service(annotation)],
        events=events,
        on_start=prepare_collections,
    )
    return AnnotationApp(annotation, projects, tasks, queue, annotations, events, service)


def build(settings: AnnotationSettings) -> ServiceDefinition:
    return build_app(settings).service
