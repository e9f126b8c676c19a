"""The ingest service's MongoDB collection of items."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.documents import from_document, to_document
from labelmesh.core.mongo import Document, duplicates_conflict, session_of
from labelmesh.core.uow import Transaction
from labelmesh.ingest.records import StoredItem
from labelmesh.v1.events_pb2 import DataType


def _document(item: StoredItem) -> Document:
    return to_document(item, "item_id", data_type=int(item.data_type), metadata=dict(item.metadata))


def _record(document: Document) -> StoredItem:
    return from_document(
        StoredItem,
        document,
        "item_id",
        data_type=DataType.ValueType(document["data_type"]),
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
