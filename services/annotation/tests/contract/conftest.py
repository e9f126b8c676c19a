"""Annotation's repositories on the backend under test: the twins or SecantusDB."""

from __future__ import annotations

from typing import TypeVar

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

R = TypeVar("R")


async def indexed(repository: R) -> R:
    """The repository, with its MongoDB indexes made first if it is a MongoDB adapter."""
    if isinstance(repository, MongoTaskRepository | MongoTaskQueue | MongoAnnotationRepository):
        await repository.ensure_indexes()
    return repository


@pytest.fixture
def projects(backend: Backend) -> ProjectRepository:
    return backend.pick(InMemoryProjectRepository, MongoProjectRepository)


@pytest.fixture
async def tasks(backend: Backend) -> TaskRepository:
    return await indexed(backend.pick(InMemoryTaskRepository, MongoTaskRepository))


@pytest.fixture
async def queue(backend: Backend) -> TaskQueue:
    return await indexed(backend.pick(InMemoryTaskQueue, MongoTaskQueue))


@pytest.fixture
async def annotations(backend: Backend) -> AnnotationRepository:
    return await indexed(backend.pick(InMemoryAnnotationRepository, MongoAnnotationRepository))
