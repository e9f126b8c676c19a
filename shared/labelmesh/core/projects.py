"""A service's own copy of the projects it has heard of through ProjectCreated.

Services other than annotation (which owns projects) keep this view instead of
reading annotation's collections.
"""

from __future__ import annotations

from typing import Protocol

from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document, session_of
from labelmesh.core.uow import Transaction
from labelmesh.v1.events_pb2 import Envelope, ProjectCreated, ProjectSpec


class ProjectDirectory(Protocol):
    """The projects a service knows, by id."""

    async def save(self, tx: Transaction, project: ProjectSpec) -> None: ...

    async def get(self, project_id: str) -> ProjectSpec | None: ...


class MongoProjectDirectory:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["projects"]

    async def save(self, tx: Transaction, project: ProjectSpec) -> None:
        await self.collection.replace_one(
            {"_id": project.project_id},
            {"_id": project.project_id, "spec": project.SerializeToString()},
            upsert=True,
            session=session_of(tx),
        )

    async def get(self, project_id: str) -> ProjectSpec | None:
        document = await self.collection.find_one({"_id": project_id})
        return ProjectSpec.FromString(document["spec"]) if document else None


class KeepsProjects(Protocol):
    """A fetch whose service keeps a project directory."""

    @property
    def projects(self) -> ProjectDirectory: ...


async def remember_project(
    fetch: KeepsProjects, tx: Transaction, _: Envelope, event: ProjectCreated
) -> None:
    """The step of every service that keeps a project directory, on ProjectCreated."""
    await fetch.projects.save(tx, event.project)
