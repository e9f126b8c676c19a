"""Annotation's repositories on the backend under test: the twins or SecantusDB."""

from __future__ import annotations

import pytest

from labelmesh.annotation.adapters.annotations import MongoAnnotationRepository
from labelmesh.annotation.adapters.projects import MongoProjectRepository
from labelmesh.annotation.adapters.task_queue import MongoTaskQueue
from labelmesh.annotation.adapters.tasks import MongoTaskRepository
from labelmesh.annotation.ports import (
    AnnotationRepository,
    ProjectRepository,
    TaskQueue,
    TaskRepository,
)
from labelmesh.testing.backends import Backend
from labelmesh.testing.twins.annotation import (
    InMemoryAnnotationRepository,
    InMemoryProjectRepository,
    InMemoryTaskQueue,
    InMemoryTaskRepository,
)


@pytest.fixture
def projects(backend: Backend) -> ProjectRepository:
    return backend.pick(InMemoryProjectRepository, MongoProjectRepository)


@pytest.fixture
async def tasks(backend: Backend) -> TaskRepository:
    repository = backend.pick(InMemoryTaskRepository, MongoTaskRepository)
    if isinstance(repository, MongoTaskRepository):
        await repository.ensure_indexes()
    return repository


@pytest.fixture
async def queue(backend: Backend) -> TaskQueue:
    tasks = backend.pick(InMemoryTaskQueue, MongoTaskQueue)
    if isinstance(tasks, MongoTaskQueue):
        await tasks.ensure_indexes()
    return tasks


@pytest.fixture
async def annotations(backend: Backend) -> AnnotationRepository:
    repository = backend.pick(InMemoryAnnotationRepository, MongoAnnotationRepository)
    if isinstance(repository, MongoAnnotationRepository):
        await repository.ensure_indexes()
    return repository
