"""Quality scores (`scores`) and the review's copy of each annotation
(`annotations`) in MongoDB."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING, DESCENDING, InsertOne, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from labelmesh.core.labels import labels_to_json
from labelmesh.core.mongo import Document, session_of
from labelmesh.core.uow import Transaction
from labelmesh.review.adapters.documents import (
    aware,
    conflict_on_duplicate,
    find_in_window,
    labels_of,
    now,
)
from labelmesh.review.records import AnnotationCopy, ScoreReference, StoredScore, Window


def score_to_document(score: StoredScore) -> Document:
    return {
        "_id": score.annotation_id,
        "project_id": score.project_id,
        "item_id": score.item_id,
        "annotator": score.annotator,
        "round": score.round,
        "agreement": score.agreement,
        "reference": score.reference.value,
        "gold": score.gold,
        "gold_correct": score.gold_correct,
        "correct": score.correct,
        "score": score.score,
        "seconds_spent": score.seconds_spent,
        "submitted_at": score.submitted_at,
        "scored_at": score.scored_at,
    }


def score_from_document(document: Document) -> StoredScore:
    return StoredScore(
        annotation_id=document["_id"],
        project_id=document["project_id"],
        item_id=document["item_id"],
        annotator=document["annotator"],
        round=document["round"],
        agreement=document["agreement"],
        reference=ScoreReference(document["reference"]),
        gold=document["gold"],
        gold_correct=document["gold_correct"],
        correct=document["correct"],
        score=document["score"],
        seconds_spent=document["seconds_spent"],
        scored_at=aware(document["scored_at"]) or now(),
        submitted_at=aware(document.get("submitted_at")),
    )


class MongoScoreRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.scores = db["scores"]

    async def ensure_indexes(self) -> None:
        await self.scores.create_index([("project_id", ASCENDING), ("scored_at", ASCENDING)])
        await self.scores.create_index(
            [("project_id", ASCENDING), ("annotator", ASCENDING), ("scored_at", DESCENDING)]
        )

    async def save(self, tx: Transaction, scores: Sequence[StoredScore]) -> None:
        writes = [
            ReplaceOne({"_id": s.annotation_id}, score_to_document(s), upsert=True) for s in scores
        ]
        if writes:
            await self.scores.bulk_write(writes, ordered=False, session=session_of(tx))

    async def in_window(self, window: Window) -> list[StoredScore]:
        documents = await find_in_window(self.scores, "scored_at", "annotator", window)
        return [score_from_document(d) for d in documents]

    async def recent_items_of(self, project_id: str, annotator: str, limit: int) -> list[str]:
        cursor = (
            self.scores.find(
                {"project_id": project_id, "annotator": annotator, "gold": False},
                {"item_id": 1},
            )
            .sort("scored_at", DESCENDING)
            .limit(limit)
        )
        return list(dict.fromkeys([d["item_id"] async for d in cursor]))


def annotation_to_document(copy: AnnotationCopy) -> Document:
    return {
        "_id": copy.annotation_id,
        "project_id": copy.project_id,
        "item_id": copy.item_id,
        "annotator": copy.annotator,
        "round": copy.round,
        "labels": labels_to_json(copy.labels),
        "gold": copy.gold,
        "submitted_at": copy.submitted_at,
    }


def annotation_from_document(document: Document) -> AnnotationCopy:
    return AnnotationCopy(
        annotation_id=document["_id"],
        project_id=document["project_id"],
        item_id=document["item_id"],
        annotator=document["annotator"],
        round=document["round"],
        labels=labels_of(document["labels"]),
        gold=document["gold"],
        submitted_at=aware(document["submitted_at"]) or now(),
    )


class MongoAnnotationRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.annotations = db["annotations"]

    async def ensure_indexes(self) -> None:
        await self.annotations.create_index(
            [("project_id", ASCENDING), ("submitted_at", ASCENDING)]
        )

    async def insert(self, tx: Transaction, copies: Sequence[AnnotationCopy]) -> None:
        if not copies:
            return
        writes = [InsertOne(annotation_to_document(c)) for c in copies]
        try:
            await self.annotations.bulk_write(writes, ordered=False, session=session_of(tx))
        except BulkWriteError as exc:
            raise conflict_on_duplicate(exc, "annotation") or exc from exc

    async def in_window(self, window: Window) -> list[AnnotationCopy]:
        documents = await find_in_window(self.annotations, "submitted_at", "annotator", window)
        return [annotation_from_document(d) for d in documents]
