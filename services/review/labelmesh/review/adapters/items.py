"""Items under review in MongoDB: `pipeline.ItemState` as one document each."""

from __future__ import annotations

from collections.abc import Iterable

from pymongo import ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.documents import aware, from_document, to_document
from labelmesh.core.labels import labels_to_json
from labelmesh.core.mongo import Document, find_in, session_of
from labelmesh.core.uow import Transaction
from labelmesh.review.adapters.documents import labels_of, now
from labelmesh.review.pipeline import ItemState, Submission
from labelmesh.review.records import CompletionSource, ReviewState


def submission_to_document(submission: Submission) -> Document:
    return to_document(
        submission,
        None,
        labels=labels_to_json(submission.labels),
        suggestion=labels_to_json(submission.suggestion),
    )


def submission_from_document(document: Document) -> Submission:
    return from_document(
        Submission,
        document,
        None,
        labels=labels_of(document["labels"]),
        suggestion=labels_of(document["suggestion"]),
        round=document.get("round", 0),
        submitted_at=aware(document.get("submitted_at")),
    )


def item_to_document(item: ItemState) -> Document:
    return to_document(
        item,
        "item_id",
        state=item.state.value,
        submissions=[submission_to_document(s) for s in item.submissions],
        labels=labels_to_json(item.labels),
        source=item.source.value if item.source is not None else "",
        updated_at=now(),
    )


def item_from_document(document: Document) -> ItemState:
    return from_document(
        ItemState,
        document,
        "item_id",
        state=ReviewState(document["state"]),
        submissions=[submission_from_document(s) for s in document["submissions"]],
        labels=labels_of(document["labels"]),
        flags=list(document["flags"]),
        source=CompletionSource(document["source"]) if document["source"] else None,
    )


class MongoItemRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.items = db["items"]

    async def ensure_indexes(self) -> None:
        return None  # read by id only

    async def load(self, tx: Transaction, item_ids: Iterable[str]) -> dict[str, ItemState]:
        documents = await find_in(self.items, "_id", item_ids, session_of(tx))
        return {d["_id"]: item_from_document(d) for d in documents}

    async def get(self, item_id: str, tx: Transaction | None = None) -> ItemState | None:
        session = session_of(tx) if tx is not None else None
        document = await self.items.find_one({"_id": item_id}, session=session)
        return item_from_document(document) if document else None

    async def save(self, tx: Transaction, items: Iterable[ItemState]) -> None:
        writes = [
            ReplaceOne({"_id": item.item_id}, item_to_document(item), upsert=True) for item in items
        ]
        if writes:
            await self.items.bulk_write(writes, ordered=False, session=session_of(tx))
