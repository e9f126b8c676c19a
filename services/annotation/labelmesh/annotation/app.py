"""Wiring of the annotation service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from labelmesh.annotation.adapters import legacy_projects, legacy_tasks
from labelmesh.annotation.adapters.annotations import MongoAnnotationRepository
from labelmesh.annotation.adapters.projects import MongoProjectRepository
from labelmesh.annotation.adapters.queue_state import MongoQueueStore
from labelmesh.annotation.adapters.tasks import MongoTaskStore
from labelmesh.annotation.api import grpc, rest
from labelmesh.annotation.config import SERVICE, AnnotationSettings
from labelmesh.annotation.handlers import TABLE, AnnotationFetch
from labelmesh.annotation.metrics import AnnotationMetrics
from labelmesh.annotation.ports import (
    AnnotationRepository,
    AnnotationStores,
    ProjectRepository,
    QueueStore,
    TaskStore,
)
from labelmesh.annotation.project_cache import CachedProjects
from labelmesh.annotation.secured import SecuredAnnotation
from labelmesh.annotation.task_events import TaskEvents
from labelmesh.annotation.usecases import Annotation
from labelmesh.core.access import ProjectGate, directory_organizations
from labelmesh.core.dispatch import Dispatcher
from labelmesh.core.platform import Platform
from labelmesh.core.runner import ServiceDefinition
from labelmesh.v1.events_pb2 import Envelope


@dataclass(frozen=True)
class AnnotationApp:
    """The annotation service's parts, wired."""

    annotation: Annotation
    projects: ProjectRepository
    tasks: TaskStore
    queue: QueueStore
    annotations: AnnotationRepository
    dispatcher: Dispatcher[AnnotationFetch]
    service: ServiceDefinition


def dispatcher(stores: AnnotationStores, metrics: AnnotationMetrics) -> Dispatcher[AnnotationFetch]:
    """The dispatcher of annotation's events over the given stores."""
    tasks = TaskEvents(stores.tasks, stores.queue)

    async def start(_: Sequence[Envelope]) -> AnnotationFetch:
        return AnnotationFetch(stores.projects, tasks, stores.annotations, metrics)

    return Dispatcher(TABLE, stores.uow, consumer=SERVICE, start=start)


def build_app(settings: AnnotationSettings) -> AnnotationApp:
    platform = Platform(SERVICE, settings)
    mongo_projects = MongoProjectRepository(platform.db)
    projects = CachedProjects(mongo_projects)
    tasks = MongoTaskStore(platform.db)
    queue = MongoQueueStore(platform.db)
    annotations = MongoAnnotationRepository(platform.db)
    metrics = AnnotationMetrics(platform.registry)
    stores = AnnotationStores(projects, tasks, queue, annotations, platform.uow)
    annotation = Annotation(stores, metrics)
    events = dispatcher(stores, metrics)

    async def prepare_collections() -> None:
        await mongo_projects.ensure_indexes()
        await tasks.ensure_indexes()
        await queue.ensure_indexes()
        await annotations.ensure_indexes()
        await legacy_projects.place_in_lists(platform.db, platform.uow)
        await legacy_tasks.upgrade(platform.db)
        await legacy_tasks.place_in_queues(platform.db, stores)

    secured = SecuredAnnotation(annotation, ProjectGate(directory_organizations(projects.get)))
    service = ServiceDefinition(
        platform=platform,
        router=rest.router(secured),
        grpc_services=[grpc.grpc_service(secured, platform.authenticator)],
        events=events,
        on_start=prepare_collections,
    )
    return AnnotationApp(annotation, projects, tasks, queue, annotations, events, service)


def build(settings: AnnotationSettings) -> ServiceDefinition:
    return build_app(settings).service
