"""The ingest service's MongoDB collection of items.

An item's `_id` is its natural key, derived from project and content hash
(`item_id_for`), so the dedup check is a lookup by `_id` and the collection
needs no secondary unique index, which would cut bulk inserts to a third.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.documents import from_document, to_document
from labelmesh.core.mongo import Document, duplicates_conflict, find_in, session_of
from labelmesh.core.uow import Transaction
from labelmesh.ingest.domain import item_id_for
from labelmesh.ingest.records import StoredItem
from labelmesh.v1.events_pb2 import DataType

ITEMS = "items"
# The unique index on (project, hash) that items had before their id was their
# natural key; it would cut bulk inserts to a third.
LEGACY_HASH_INDEX = "project_id_1_sha256_1"
log = logging.getLogger(__name__)


def item_document(item: StoredItem) -> Document:
    """An item as stored."""
    return to_document(item, "item_id", data_type=int(item.data_type), metadata=dict(item.metadata))


def _record(document: Document) -> StoredItem:
    return from_document(
        StoredItem,
        document,
        "item_id",
        data_type=DataType.ValueType(document["data_type"]),
        metadata=dict(document["metadata"]),
        text=document.get("text", ""),
        width=document.get("width", 0),
        height=document.get("height", 0),
        # Items stored before sources were recorded came in by upload.
        source=document.get("source", "upload"),
        source_uri=document.get("source_uri", ""),
        media_uri=document.get("media_uri", ""),
        bucket_id=document.get("bucket_id", ""),
    )


class MongoItemRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.items = db[ITEMS]

    async def ensure_indexes(self) -> None:
        """Only `_id` is needed; drops the index of the earlier id scheme if present."""
        if LEGACY_HASH_INDEX in await self.items.index_information():
            log.warning(
                "dropping the items index %s: items are now keyed by project and hash; "
                "content stored before is not recognised as a duplicate",
                LEGACY_HASH_INDEX,
            )
            await self.items.drop_index(LEGACY_HASH_INDEX)

    async def ids_by_hash(self, project_id: str, hashes: Sequence[str]) -> dict[str, str]:
        ids = [item_id_for(project_id, sha256) for sha256 in hashes]
        found = await find_in(self.items, "_id", ids, projection={"sha256": 1})
        return {d["sha256"]: d["_id"] for d in found}

    async def insert(self, tx: Transaction, items: Sequence[StoredItem]) -> None:
        with duplicates_conflict("identical content was uploaded concurrently; retry"):
            await self.items.insert_many([item_document(i) for i in items], session=session_of(tx))

    async def get(self, item_id: str) -> StoredItem | None:
        document = await self.items.find_one({"_id": item_id})
        return _record(document) if document else None

    async def get_many(self, item_ids: Sequence[str]) -> list[StoredItem]:
        return [_record(d) for d in await find_in(self.items, "_id", list(item_ids))]

    async def delete(self, tx: Transaction, item_ids: Sequence[str]) -> None:
        if item_ids:
            await self.items.delete_many({"_id": {"$in": list(item_ids)}}, session=session_of(tx))
