"""Annotations of items in MongoDB, human or model."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from labelmesh.annotation.adapters.documents import annotation_document, annotation_from_document
from labelmesh.annotation.records import StoredAnnotation
from labelmesh.core.errors import Conflict
from labelmesh.core.mongo import Document, find_in, session_of
from labelmesh.core.uow import Transaction

DUPLICATE_KEY = 11000


class MongoAnnotationRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.annotations = db["annotations"]

    async def ensure_indexes(self) -> None:
        await self.annotations.create_index("item_id")

    async def insert(self, tx: Transaction, annotations: Sequence[StoredAnnotation]) -> None:
        if not annotations:
            return
        now = datetime.now(UTC)
        try:
            await self.annotations.insert_many(
                [annotation_document(a, now) for a in annotations], session=session_of(tx)
            )
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors") or []
            if any(e.get("code") == DUPLICATE_KEY for e in errors):
                raise Conflict("an annotation with this id already exists") from None
            raise

    async def of_item(self, item_id: str) -> list[StoredAnnotation]:
        cursor = self.annotations.find({"item_id": item_id}).sort("created_at", 1)
        return [annotation_from_document(d) async for d in cursor]

    async def known(self, tx: Transaction, annotation_ids: Sequence[str]) -> set[str]:
        found = await find_in(
            self.annotations, "_id", annotation_ids, session_of(tx), projection={"_id": 1}
        )
        return {d["_id"] for d in found}
