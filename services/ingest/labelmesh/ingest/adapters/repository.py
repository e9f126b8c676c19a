"""The ingest service's MongoDB collections: items and its view of projects."""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document, Transaction
from labelmesh.core.projects import ProjectViews
from labelmesh.ingest.domain import PreparedItem


class IngestRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.items = db["items"]
        self.projects = ProjectViews(db)

    async def ensure_indexes(self) -> None:
        await self.items.create_index(
            [("project_id", ASCENDING), ("sha256", ASCENDING)], unique=True
        )

    async def items_by_hash(self, project_id: str, hashes: list[str]) -> dict[str, str]:
        """Existing item ids of the given content hashes in a project."""
        cursor = self.items.find(
            {"project_id": project_id, "sha256": {"$in": hashes}}, {"sha256": 1}
        )
        return {d["sha256"]: d["_id"] async for d in cursor}

    async def insert_items(self, tx: Transaction, items: list[PreparedItem]) -> None:
        now = datetime.now(UTC)
        await self.items.insert_many(
            [
                {
                    "_id": i.item_id,
                    "project_id": i.project_id,
                    "data_type": i.data_type,
                    "content_type": i.content_type,
                    "sha256": i.sha256,
                    "size_bytes": len(i.content),
                    "media_key": i.media_key,
                    "filename": i.filename,
                    "metadata": i.metadata,
                    "created_at": now,
                }
                for i in items
            ],
            session=tx.session,
        )

    async def get_item(self, item_id: str) -> Document | None:
        return await self.items.find_one({"_id": item_id})
