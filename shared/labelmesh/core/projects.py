"""A service's own copy of the projects it has heard of through ProjectCreated.

Services other than annotation (which owns projects) keep this view instead of
reading annotation's collections.
"""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document, Transaction, UnitOfWork
from labelmesh.v1.events_pb2 import Envelope, ProjectCreated, ProjectSpec


class ProjectViews:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["projects"]

    async def save(self, tx: Transaction, project: ProjectSpec) -> None:
        await self.collection.replace_one(
            {"_id": project.project_id},
            {"_id": project.project_id, "spec": project.SerializeToString()},
            upsert=True,
            session=tx.session,
        )

    async def get(self, project_id: str) -> ProjectSpec | None:
        document = await self.collection.find_one({"_id": project_id})
        return ProjectSpec.FromString(document["spec"]) if document else None

    async def record(
        self, uow: UnitOfWork, envelope: Envelope, event: ProjectCreated, consumer: str
    ) -> None:
        """Handle ProjectCreated: keep the project, once."""
        async with uow.begin() as tx:
            if await tx.claim_event(envelope.event_id, consumer):
                await self.save(tx, event.project)
