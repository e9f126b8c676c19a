"""Projects stored before they could be listed get their organisation and a
place in its list at start-up, oldest first, once (a marker records that).
Each organisation is placed in one transaction with its counter, so replicas
starting together conflict, and the one that runs again finds nothing left."""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.annotation.adapters.projects import MongoProjectRepository, organization_of
from labelmesh.core.mongo import Document, session_of
from labelmesh.core.uow import Transaction, UnitOfWork
from labelmesh.v1.events_pb2 import ProjectSpec

MARKER = "project-listing"
UNLISTED = {"position": {"$exists": False}}


async def place_in_lists(db: AsyncDatabase[Document], uow: UnitOfWork) -> int:
    """List every project still without a position; returns how many were."""
    done = db["migrations"]
    if await done.find_one({"_id": MARKER}):
        return 0
    repository = MongoProjectRepository(db)
    unlisted = await repository.projects.find(UNLISTED, {"spec": 1}).to_list(None)
    organizations = {_organization(d) for d in unlisted}
    placed = 0
    for organization in sorted(organizations):

        async def place(tx: Transaction, organization: str = organization) -> int:
            session = session_of(tx)
            found = await repository.projects.find(UNLISTED, session=session).to_list(None)
            mine = [d for d in found if _organization(d) == organization]
            if not mine:
                return 0
            mine.sort(key=_age)
            first = await repository.reserve(tx, organization, len(mine))
            await repository.projects.bulk_write(
                [
                    UpdateOne(
                        {"_id": d["_id"], **UNLISTED},
                        {"$set": {"organization_id": organization, "position": first + offset}},
                    )
                    for offset, d in enumerate(mine)
                ],
                session=session,
            )
            return len(mine)

        placed += await uow.run(place)
    await done.update_one({"_id": MARKER}, {"$set": {"placed": placed}}, upsert=True)
    return placed


def _organization(document: Document) -> str:
    return organization_of(ProjectSpec.FromString(document["spec"]))


def _age(document: Document) -> datetime:
    return document.get("created_at") or datetime.max.replace(tzinfo=UTC)
