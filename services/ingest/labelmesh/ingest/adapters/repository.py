"""The ingest service's MongoDB collection of items."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document, duplicates_conflict, session_of
from labelmesh.core.uow import Transaction
from labelmesh.ingest.records import StoredItem
from labelmesh.v1.events_pb2 import DataType


def _document(item: StoredItem) -> Document:
    return {
        "_id": item.item_id,
        "project_id": item.project_id,
        "data_type": int(item.data_type),
        "content_type": item.content_type,
        "sha256": item.sha256,
        "size_bytes": item.size_bytes,
        "media_key": item.media_key,
        "filename": item.filename,
        "metadata": dict(item.metadata),
        "created_at": item.created_at,
    }


def _record(document: Document) -> StoredItem:
    return StoredItem(
        item_id=document["_id"],
        project_id=document["project_id"],
        data_type=DataType.ValueType(document["data_type"]),
        content_type=document["content_type"],
        sha256=document["sha256"],
        size_bytes=document["size_bytes"],
        media_key=document["media_key"],
        created_at=document["created_at"],
        filename=document["filename"],
        metadata=dict(document["metadata"]),
    )


class MongoItemRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.items = db["items"]

    async def ensure_indexes(self) -> None:
        await self.items.create_index(
            [("project_id", ASCENDING), ("sha256", ASCENDING)], unique=True
        )

    async def ids_by_hash(self, project_id: str, hashes: Sequence[str]) -> dict[str, str]:
        cursor = self.items.find(
            {"project_id": project_id, "sha256": {"$in": list(hashes)}}, {"sha256": 1}
        )
        return {d["sha256"]: d["_id"] async for d in cursor}

    async def insert(self, tx: Transaction, items: Sequence[StoredItem]) -> None:
        with duplicates_conflict("identical content was uploaded concurrently; retry"):
            await self.items.insert_many([_document(i) for i in items], session=session_of(tx))

    async def get(self, item_id: str) -> StoredItem | None:
        document = await self.items.find_one({"_id": item_id})
        return _record(document) if document else None
