"""The dataset service's MongoDB collections: the projection of items, the
versions, and the versions' manifest chunks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReplaceOne, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.documents import aware, from_document, to_document
from labelmesh.core.mongo import Document, duplicates_conflict, find_in, session_of
from labelmesh.core.uow import Transaction
from labelmesh.dataset.browsing import TEXT_CHARS, annotators_of, classes_of, facets_of, status_of
from labelmesh.dataset.domain import BUCKETS, bucket_of, order_key
from labelmesh.dataset.records import (
    Acceptance,
    AnnotationTrace,
    BrowseStatus,
    ItemStatus,
    ItemSummary,
    ManifestChunk,
    ProjectedItem,
    StoredVersion,
)
from labelmesh.v1.events_pb2 import DatasetVersion

ITEMS = "dataset_items"
VERSIONS = "dataset_versions"
CHUNKS = "dataset_manifest_chunks"
# Per project, the last place in its browsing order given to an item.
PLACES = "dataset_item_places"
# What a listing reads of an item.
SUMMARY_FIELDS = {
    name: 1
    for name in (
        "seq",
        "data_type",
        "filename",
        "text_head",
        "metadata",
        "source",
        "source_uri",
        "state",
        "classes",
        "annotators",
        "created_at",
        "width",
        "height",
        "facets",
    )
}


def item_document(item: ProjectedItem) -> Document:
    acceptance = item.acceptance
    # What browsing filters on and shows, kept on write.
    state, classes, annotators = status_of(item), classes_of(item), annotators_of(item)
    return to_document(
        item,
        "item_id",
        metadata=dict(item.metadata),
        annotations=[
            to_document(t, None, reviewers=list(t.reviewers), classes=list(t.classes))
            for t in item.annotations.values()
        ],
        acceptance=(
            to_document(acceptance, None, labels=list(acceptance.labels)) if acceptance else None
        ),
        status=str(item.status) if item.status else None,
        # What versions take: a deleted item's labels stay in those made before only.
        accepted=acceptance is not None and item.deleted_at is None,
        bucket=bucket_of(item.item_id),
        state=str(state),
        classes=list(classes),
        annotators=list(annotators),
        text_head=item.text[:TEXT_CHARS],
        facets=facets_of(item, state, classes, annotators),
    )


def item_of(document: Document) -> ProjectedItem:
    traces = [
        from_document(
            AnnotationTrace,
            t,
            None,
            reviewers=tuple(t["reviewers"]),
            classes=tuple(t.get("classes", ())),
        )
        for t in document["annotations"]
    ]
    raw = document["acceptance"]
    acceptance = (
        from_document(
            Acceptance,
            raw,
            None,
            labels=tuple(bytes(b) for b in raw["labels"]),
            accepted_at=aware(raw["accepted_at"]),
        )
        if raw
        else None
    )
    return from_document(
        ProjectedItem,
        document,
        "item_id",
        metadata=dict(document["metadata"]),
        # Items projected before sizes were recorded have none.
        width=document.get("width", 0),
        height=document.get("height", 0),
        annotations={t.annotation_id: t for t in traces},
        acceptance=acceptance,
        status=ItemStatus(document["status"]) if document["status"] else None,
        flagged_at=aware(document["flagged_at"]),
        # Items projected before browsing have none of these, and no place yet.
        source=document.get("source", ""),
        source_uri=document.get("source_uri", ""),
        created_at=aware(document.get("created_at")),
        seq=document.get("seq", 0),
        # Items projected before bucket sync have neither.
        media_uri=document.get("media_uri", ""),
        deleted_at=aware(document.get("deleted_at")),
    )


def summary_of(document: Document) -> ItemSummary:
    return ItemSummary(
        item_id=document["_id"],
        seq=document["seq"],
        data_type=document["data_type"],
        filename=document["filename"],
        text=document["text_head"],
        metadata=dict(document["metadata"]),
        source=document["source"],
        source_uri=document["source_uri"],
        status=BrowseStatus(document["state"]),
        classes=tuple(document["classes"]),
        annotators=tuple(document["annotators"]),
        created_at=aware(document["created_at"]),
        width=document["width"],
        height=document["height"],
        facets=frozenset(document["facets"]),
    )


class MongoItemProjection:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.items = db[ITEMS]
        self.places = db[PLACES]

    async def ensure_indexes(self) -> None:
        await self.items.create_index(
            [("project_id", ASCENDING), ("accepted", ASCENDING), ("bucket", ASCENDING)]
        )
        await self.items.create_index(
            [("project_id", ASCENDING), ("facets", ASCENDING), ("seq", ASCENDING)]
        )

    async def place(self, tx: Transaction, project_id: str, count: int) -> int:
        counter = await self.places.find_one_and_update(
            {"_id": project_id},
            {"$inc": {"last": count}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session_of(tx),
        )
        assert counter is not None  # upserted
        last: int = counter["last"]
        return last - count + 1

    async def extent(self, project_id: str) -> int:
        counter = await self.places.find_one({"_id": project_id})
        return (counter["last"] if counter else 0) + 1

    async def browse(self, project_id: str, facet: str, first: int, stop: int) -> list[ItemSummary]:
        query = {"project_id": project_id, "facets": facet, "seq": {"$gte": first, "$lt": stop}}
        documents = await self.items.find(query, SUMMARY_FIELDS).to_list(None)
        return [summary_of(d) for d in documents]

    async def get_many(self, tx: Transaction, item_ids: Sequence[str]) -> dict[str, ProjectedItem]:
        found = await find_in(self.items, "_id", item_ids, session=session_of(tx))
        return {d["_id"]: item_of(d) for d in found}

    async def put_many(self, tx: Transaction, items: Sequence[ProjectedItem]) -> None:
        if items:
            writes = [ReplaceOne({"_id": i.item_id}, item_document(i), upsert=True) for i in items]
            await self.items.bulk_write(writes, ordered=False, session=session_of(tx))

    async def accepted(self, project_id: str, batch: int) -> AsyncIterator[list[ProjectedItem]]:
        # One equality lookup per bucket, the next one already under way while
        # the caller works on this one: the database and this process then
        # work at the same time. The few documents a lookup returns are put
        # in order here, as SecantusDB would do it, in Python.
        pending: list[ProjectedItem] = []
        ahead = asyncio.ensure_future(self._bucket(project_id, 0))
        try:
            for bucket in range(BUCKETS):
                found = await ahead
                if bucket + 1 < BUCKETS:
                    ahead = asyncio.ensure_future(self._bucket(project_id, bucket + 1))
                pending += found
                while len(pending) >= batch:
                    yield pending[:batch]
                    pending = pending[batch:]
        finally:
            ahead.cancel()
        if pending:
            yield pending

    async def _bucket(self, project_id: str, bucket: int) -> list[ProjectedItem]:
        query = {"project_id": project_id, "accepted": True, "bucket": bucket}
        documents = await self.items.find(query).to_list(None)
        return await asyncio.to_thread(_in_order, documents)


def _in_order(documents: list[Document]) -> list[ProjectedItem]:
    return sorted((item_of(d) for d in documents), key=lambda i: order_key(i.item_id))


def version_document(stored: StoredVersion) -> Document:
    version = stored.version
    return {
        "_id": version.version_id,
        "project_id": version.project_id,
        "created_at": version.created_at.ToDatetime(UTC),
        "version": version.SerializeToString(),
        "manifest_id": stored.manifest_id,
        "chunks": stored.chunks,
    }


def version_of(document: Document) -> StoredVersion:
    return StoredVersion(
        DatasetVersion.FromString(document["version"]), document["manifest_id"], document["chunks"]
    )


class MongoVersionRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.versions = db[VERSIONS]
        self.chunks = db[CHUNKS]

    async def ensure_indexes(self) -> None:
        await self.versions.create_index(
            [("project_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)]
        )
        await self.chunks.create_index([("manifest_id", ASCENDING)])

    async def put_chunks(self, chunks: Sequence[ManifestChunk]) -> None:
        if chunks:
            await self.chunks.insert_many([_chunk_document(c) for c in chunks], ordered=False)

    async def drop_manifest(self, manifest_id: str) -> None:
        await self.chunks.delete_many({"manifest_id": manifest_id})

    async def add(self, tx: Transaction, version: StoredVersion) -> bool:
        # A refused insert would abort the transaction: look first. Two replicas
        # making the same version at once collide on _id, which is a Conflict.
        session = session_of(tx)
        if await self.versions.find_one({"_id": version.version.version_id}, session=session):
            return False
        with duplicates_conflict(f"version {version.version.version_id} was made concurrently"):
            await self.versions.insert_one(version_document(version), session=session)
        return True

    async def get(self, version_id: str) -> StoredVersion | None:
        document = await self.versions.find_one({"_id": version_id})
        return version_of(document) if document else None

    async def newest(
        self, project_id: str, limit: int, before: tuple[datetime, str] | None = None
    ) -> list[StoredVersion]:
        query: dict[str, Any] = {"project_id": project_id}
        found = self.versions.find(query).sort([("created_at", DESCENDING), ("_id", DESCENDING)])
        versions = [version_of(d) for d in await found.to_list(None)]
        if before is not None:
            versions = [v for v in versions if _key(v) < before]
        return versions[:limit]

    async def chunk(self, manifest_id: str, index: int) -> ManifestChunk | None:
        document = await self.chunks.find_one({"_id": f"{manifest_id}:{index}"})
        if document is None:
            return None
        return ManifestChunk(
            manifest_id,
            index,
            tuple(bytes(b) for b in document["items"]),
            tuple(bytes(b) for b in document["lines"]),
        )


def _key(stored: StoredVersion) -> tuple[datetime, str]:
    return stored.version.created_at.ToDatetime(UTC), stored.version.version_id


def _chunk_document(chunk: ManifestChunk) -> Document:
    return {
        "_id": f"{chunk.manifest_id}:{chunk.index}",
        "manifest_id": chunk.manifest_id,
        "items": list(chunk.items),
        "lines": list(chunk.lines),
    }
