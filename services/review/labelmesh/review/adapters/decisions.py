"""Decisions in MongoDB: every ReviewDecided of an item (`decisions`), and the
reviewers' own decisions, settled against final labels (`reviewer_decisions`)."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from labelmesh.core.documents import aware, from_document, to_document
from labelmesh.core.labels import labels_to_json
from labelmesh.core.mongo import Document, find_in, session_of
from labelmesh.core.uow import Transaction
from labelmesh.review.adapters.documents import (
    conflict_on_duplicate,
    find_in_window,
    labels_of,
    now,
)
from labelmesh.review.records import ItemDecision, ReviewerDecision, Settlement, Window
from labelmesh.v1.events_pb2 import ReviewDecided


class MongoDecisionRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.decisions = db["decisions"]

    async def ensure_indexes(self) -> None:
        await self.decisions.create_index([("item_id", ASCENDING), ("created_at", ASCENDING)])

    async def append(self, tx: Transaction, decisions: Sequence[ItemDecision]) -> None:
        if not decisions:
            return
        at = now()
        try:
            await self.decisions.insert_many(
                [
                    {
                        "_id": d.decision.review_id,
                        "project_id": d.project_id,
                        "item_id": d.item_id,
                        "annotation_id": d.decision.annotation_id,
                        "review": d.decision.SerializeToString(),
                        "created_at": at,
                    }
                    for d in decisions
                ],
                session=session_of(tx),
            )
        except BulkWriteError as exc:
            raise conflict_on_duplicate(exc, "decision") or exc from exc

    async def of_item(self, item_id: str) -> list[ReviewDecided]:
        cursor = self.decisions.find({"item_id": item_id}).sort("created_at", ASCENDING)
        return [ReviewDecided.FromString(d["review"]) for d in await cursor.to_list(None)]


def reviewer_decision_to_document(decision: ReviewerDecision) -> Document:
    return to_document(decision, "review_task_id", labels=labels_to_json(decision.labels))


def reviewer_decision_from_document(document: Document) -> ReviewerDecision:
    return from_document(
        ReviewerDecision,
        document,
        "review_task_id",
        approved=bool(document["approved"]),
        labels=labels_of(document["labels"]),
        decided_at=aware(document["decided_at"]) or now(),
    )


class MongoReviewerDecisionRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.decisions = db["reviewer_decisions"]

    async def ensure_indexes(self) -> None:
        await self.decisions.create_index([("project_id", ASCENDING), ("decided_at", ASCENDING)])
        await self.decisions.create_index("item_id")

    async def record(self, tx: Transaction, decision: ReviewerDecision) -> None:
        try:
            await self.decisions.insert_one(
                reviewer_decision_to_document(decision), session=session_of(tx)
            )
        except DuplicateKeyError as exc:
            raise conflict_on_duplicate(exc, "reviewer decision") or exc from exc

    async def unsettled(
        self, tx: Transaction, item_ids: Sequence[str]
    ) -> dict[str, list[ReviewerDecision]]:
        # By item alone, the index's own shape; an item has few decisions, so whether
        # they are settled is checked here (`settled` beside `$in` would scan).
        found = await find_in(self.decisions, "item_id", item_ids, session_of(tx))
        documents = [d for d in found if d.get("settled") is False]
        documents.sort(key=lambda d: d["decided_at"])
        by_item: dict[str, list[ReviewerDecision]] = {}
        for document in documents:
            decision = reviewer_decision_from_document(document)
            by_item.setdefault(decision.item_id, []).append(decision)
        return by_item

    async def settle(self, tx: Transaction, settlements: Sequence[Settlement]) -> None:
        writes = [
            UpdateOne(
                {"_id": s.review_task_id},
                {
                    "$set": {
                        "settled": True,
                        "matches_final": s.matches_final,
                        "overturned": s.overturned,
                    }
                },
            )
            for s in settlements
        ]
        if writes:
            await self.decisions.bulk_write(writes, session=session_of(tx))

    async def in_window(self, window: Window) -> list[ReviewerDecision]:
        documents = await find_in_window(self.decisions, "decided_at", "reviewer", window)
        return [reviewer_decision_from_document(d) for d in documents]
