"""Annotation's stores on the backend under test: the twins or SecantusDB, and
the use cases that hold the queue's rules, over them."""

from __future__ import annotations

from typing import TypeVar

import pytest
from prometheus_client import CollectorRegistry

from labelmesh.annotation.adapters.annotations import MongoAnnotationRepository
from labelmesh.annotation.adapters.projects import MongoProjectRepository
from labelmesh.annotation.adapters.queue_state import MongoQueueStore
from labelmesh.annotation.adapters.tasks import MongoTaskStore
from labelmesh.annotation.claiming import Claims
from labelmesh.annotation.metrics import AnnotationMetrics
from labelmesh.annotation.ports import (
    AnnotationRepository,
    AnnotationStores,
    ProjectRepository,
    QueueStore,
    TaskStore,
)
from labelmesh.annotation.task_events import TaskEvents
from labelmesh.testing.backends import Backend
from labelmesh.testing.twins.annotation import (
    InMemoryAnnotationRepository,
    InMemoryProjectRepository,
    InMemoryQueueStore,
    InMemoryTaskStore,
)

R = TypeVar("R")


async def indexed(repository: R) -> R:
    """The repository, with its MongoDB indexes made first if it is a MongoDB adapter."""
    if isinstance(repository, MongoTaskStore | MongoAnnotationRepository):
        await repository.ensure_indexes()
    return repository


@pytest.fixture
def projects(backend: Backend) -> ProjectRepository:
    return backend.pick(InMemoryProjectRepository, MongoProjectRepository)


@pytest.fixture
async def store(backend: Backend) -> TaskStore:
    return await indexed(backend.pick(InMemoryTaskStore, MongoTaskStore))


@pytest.fixture
def queue(backend: Backend) -> QueueStore:
    return backend.pick(InMemoryQueueStore, MongoQueueStore)


@pytest.fixture
def tasks(store: TaskStore, queue: QueueStore) -> TaskEvents:
    return TaskEvents(store, queue)


@pytest.fixture
async def annotations(backend: Backend) -> AnnotationRepository:
    return await indexed(backend.pick(InMemoryAnnotationRepository, MongoAnnotationRepository))


@pytest.fixture
def stores(
    backend: Backend,
    projects: ProjectRepository,
    store: TaskStore,
    queue: QueueStore,
    annotations: AnnotationRepository,
) -> AnnotationStores:
    return AnnotationStores(projects, store, queue, annotations, backend.uow)


@pytest.fixture
def claims(stores: AnnotationStores) -> Claims:
    return Claims(stores, AnnotationMetrics(CollectorRegistry()))
