"""What syncs took in of each bucket object, in MongoDB: one document per
object, `_id` "<bucket id>/<key>", so a page of listed keys is one `_id` lookup."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.documents import from_document
from labelmesh.core.mongo import Document, find_in
from labelmesh.ingest.buckets.records import ObjectRecord

OBJECTS = "ingest_bucket_objects"


def _id(bucket_id: str, key: str) -> str:
    return f"{bucket_id}/{key}"


def _document(bucket_id: str, record: ObjectRecord) -> Document:
    return {
        "_id": _id(bucket_id, record.key),
        "bucket_id": bucket_id,
        "key": record.key,
        "etag": record.etag,
        "item_id": record.item_id,
        "error": record.error,
        "scan": record.scan,
    }


def _record(document: Document) -> ObjectRecord:
    return from_document(ObjectRecord, document, None)


class MongoObjectRecords:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.objects = db[OBJECTS]

    async def ensure_indexes(self) -> None:
        await self.objects.create_index([("bucket_id", ASCENDING), ("scan", ASCENDING)])
        await self.objects.create_index([("item_id", ASCENDING)])

    async def find(self, bucket_id: str, keys: Sequence[str]) -> dict[str, ObjectRecord]:
        found = await find_in(self.objects, "_id", [_id(bucket_id, key) for key in keys])
        return {d["key"]: _record(d) for d in found}

    async def put(self, bucket_id: str, records: Sequence[ObjectRecord]) -> None:
        if records:
            writes = [
                ReplaceOne({"_id": _id(bucket_id, r.key)}, _document(bucket_id, r), upsert=True)
                for r in records
            ]
            await self.objects.bulk_write(writes, ordered=False)

    async def mark_scanned(self, bucket_id: str, keys: Sequence[str], scan: int) -> None:
        if keys:
            ids = [_id(bucket_id, key) for key in keys]
            await self.objects.update_many({"_id": {"$in": ids}}, {"$set": {"scan": scan}})

    async def unseen(self, bucket_id: str, scan: int, limit: int) -> list[ObjectRecord]:
        found = self.objects.find({"bucket_id": bucket_id, "scan": scan}).limit(limit)
        return [_record(d) async for d in found]

    async def remove(self, bucket_id: str, keys: Sequence[str]) -> None:
        if keys:
            ids = [_id(bucket_id, key) for key in keys]
            await self.objects.delete_many({"_id": {"$in": ids}})

    async def owners(self, item_ids: Sequence[str]) -> dict[str, set[str]]:
        found = await find_in(self.objects, "item_id", item_ids, projection={"item_id": 1})
        owners: dict[str, set[str]] = {}
        for document in found:
            owners.setdefault(document["item_id"], set()).add(document["_id"])
        return owners
