"""The projects annotation owns, in MongoDB: each stored as its serialized spec,
with its organisation and its position in the organisation's list (0, 1, 2...
in creation order, from a counter moved in the project's own transaction), so
that a page of the list is one bounded range of the `listing` index."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from labelmesh.annotation.adapters.conflicts import created_meanwhile_is_a_conflict
from labelmesh.annotation.records import ListedProject
from labelmesh.core import review_policy
from labelmesh.core.access import DEFAULT_ORGANIZATION
from labelmesh.core.errors import Conflict
from labelmesh.core.mongo import Document, find_in, session_of
from labelmesh.core.uow import Transaction
from labelmesh.v1.events_pb2 import ProjectSpec, ReviewPolicy


def _now() -> datetime:
    return datetime.now(UTC)


def organization_of(project: ProjectSpec) -> str:
    return project.organization_id or DEFAULT_ORGANIZATION


def listed_of(document: Document) -> ListedProject:
    return ListedProject(int(document["position"]), ProjectSpec.FromString(document["spec"]))


class MongoProjectRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.projects = db["projects"]
        # One document per organisation: the next free position of its list.
        self.counters = db["project_counters"]

    async def ensure_indexes(self) -> None:
        """Projects are found by id, and listed by organisation and position."""
        await self.projects.create_index(
            [("organization_id", ASCENDING), ("position", ASCENDING)], name="listing"
        )

    async def insert(self, tx: Transaction, project: ProjectSpec) -> None:
        session = session_of(tx)
        organization = organization_of(project)
        position = await self.reserve(tx, organization, 1)
        try:
            await self.projects.insert_one(
                {
                    "_id": project.project_id,
                    "spec": project.SerializeToString(),
                    "organization_id": organization,
                    "position": position,
                    "created_at": _now(),
                },
                session=session,
            )
        except DuplicateKeyError:
            raise Conflict(f"project {project.project_id!r} already exists") from None

    async def reserve(self, tx: Transaction, organization_id: str, count: int) -> int:
        """Take `count` positions at the end of the organisation's list; returns the first."""
        session = session_of(tx)
        with created_meanwhile_is_a_conflict("an organisation's project counter"):
            await self.counters.update_one(
                {"_id": organization_id}, {"$inc": {"next": count}}, upsert=True, session=session
            )
        document = await self.counters.find_one({"_id": organization_id}, session=session)
        assert document is not None  # written just above, in this transaction
        return int(document["next"]) - count

    async def get(self, project_id: str) -> ProjectSpec | None:
        document = await self.projects.find_one({"_id": project_id})
        return ProjectSpec.FromString(document["spec"]) if document else None

    async def listed(self, organization_id: str) -> int:
        document = await self.counters.find_one({"_id": organization_id})
        return int(document["next"]) if document else 0

    async def window(self, organization_id: str, start: int, stop: int) -> list[ListedProject]:
        found = self.projects.find(
            {"organization_id": organization_id, "position": {"$gte": start, "$lt": stop}}
        )
        listed = [listed_of(d) async for d in found]
        return sorted(listed, key=lambda p: p.position, reverse=True)

    async def by_ids(self, project_ids: Iterable[str]) -> list[ListedProject]:
        found = await find_in(self.projects, "_id", project_ids)
        return [listed_of(d) for d in found if "position" in d]

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
