"""The projects annotation owns, in MongoDB: each stored as its serialized spec."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from labelmesh.core import review_policy
from labelmesh.core.errors import Conflict
from labelmesh.core.mongo import Document, session_of
from labelmesh.core.uow import Transaction
from labelmesh.v1.events_pb2 import ProjectSpec, ReviewPolicy


def _now() -> datetime:
    return datetime.now(UTC)


class MongoProjectRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.projects = db["projects"]

    async def ensure_indexes(self) -> None:
        """Projects are found by id only."""

    async def insert(self, tx: Transaction, project: ProjectSpec) -> None:
        try:
            await self.projects.insert_one(
                {
                    "_id": project.project_id,
                    "spec": project.SerializeToString(),
                    "created_at": _now(),
                },
                session=session_of(tx),
            )
        except DuplicateKeyError:
            raise Conflict(f"project {project.project_id!r} already exists") from None

    async def get(self, project_id: str) -> ProjectSpec | None:
        document = await self.projects.find_one({"_id": project_id})
        return ProjectSpec.FromString(document["spec"]) if document else None

    async def overlaps(self, tx: Transaction, project_ids: Iterable[str]) -> dict[str, int]:
        cursor = self.projects.find(
            {"_id": {"$in": list(set(project_ids))}}, session=session_of(tx)
        )
        return {
            d["_id"]: review_policy.overlap(ProjectSpec.FromString(d["spec"]).review_policy)
            async for d in cursor
        }

    async def update_review_policy(
        self, tx: Transaction, project_id: str, policy: ReviewPolicy
    ) -> bool:
        session = session_of(tx)
        document = await self.projects.find_one({"_id": project_id}, session=session)
        if document is None:
            return False
        project = ProjectSpec.FromString(document["spec"])
        if policy.version <= project.review_policy.version:
            return False
        project.review_policy.CopyFrom(policy)
        await self.projects.update_one(
            {"_id": project_id},
            {"$set": {"spec": project.SerializeToString(), "updated_at": _now()}},
            session=session,
        )
        return True
