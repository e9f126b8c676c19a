"""Items under review in MongoDB: `pipeline.ItemState` as one document each."""

from __future__ import annotations

from collections.abc import Iterable

from pymongo import ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.labels import labels_to_json
from labelmesh.core.mongo import Document, session_of
from labelmesh.core.uow import Transaction
from labelmesh.review.adapters.documents import aware, labels_of, now
from labelmesh.review.pipeline import ItemState, Submission
from labelmesh.review.records import CompletionSource, ReviewState


def item_to_document(item: ItemState) -> Document:
    return {
        "_id": item.item_id,
        "project_id": item.project_id,
        "state": item.state.value,
        "round": item.round,
        "expected": item.expected,
        "submissions": [
            {
                "annotation_id": s.annotation_id,
                "annotator": s.annotator,
                "task_id": s.task_id,
                "labels": labels_to_json(s.labels),
                "suggestion": labels_to_json(s.suggestion),
                "seconds_spent": s.seconds_spent,
                "round": s.round,
                "submitted_at": s.submitted_at,
            }
            for s in item.submissions
        ],
        "labels": labels_to_json(item.labels),
        "agreement": item.agreement,
        "stage_index": item.stage_index,
        "review_task_id": item.review_task_id,
        "loops": item.loops,
        "flags": item.flags,
        "source": item.source.value if item.source is not None else "",
        "reviewed_by_person": item.reviewed_by_person,
        "policy_version": item.policy_version,
        "updated_at": now(),
    }


def item_from_document(document: Document) -> ItemState:
    return ItemState(
        item_id=document["_id"],
        project_id=document["project_id"],
        state=ReviewState(document["state"]),
        round=document["round"],
        expected=document["expected"],
        submissions=[
            Submission(
                annotation_id=s["annotation_id"],
                annotator=s["annotator"],
                task_id=s["task_id"],
                labels=labels_of(s["labels"]),
                suggestion=labels_of(s["suggestion"]),
                seconds_spent=s["seconds_spent"],
                round=s.get("round", 0),
                submitted_at=aware(s.get("submitted_at")),
            )
            for s in document["submissions"]
        ],
        labels=labels_of(document["labels"]),
        agreement=document["agreement"],
        stage_index=document["stage_index"],
        review_task_id=document["review_task_id"],
        loops=document["loops"],
        flags=list(document["flags"]),
        source=CompletionSource(document["source"]) if document["source"] else None,
        reviewed_by_person=document["reviewed_by_person"],
        policy_version=document["policy_version"],
    )


class MongoItemRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.items = db["items"]

    async def ensure_indexes(self) -> None:
        return None  # read by id only

    async def load(self, tx: Transaction, item_ids: Iterable[str]) -> dict[str, ItemState]:
        cursor = self.items.find({"_id": {"$in": list(set(item_ids))}}, session=session_of(tx))
        return {d["_id"]: item_from_document(d) async for d in cursor}

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
