"""Quality scores (`scores`) and the review's copy of each annotation
(`annotations`) in MongoDB."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pymongo import ASCENDING, DESCENDING, InsertOne, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from labelmesh.core.documents import aware, from_document, to_document
from labelmesh.core.labels import labels_to_json
from labelmesh.core.mongo import Document, session_of
from labelmesh.core.uow import Transaction
from labelmesh.review.adapters.documents import (
    conflict_on_duplicate,
    find_in_window,
    labels_of,
    now,
)
from labelmesh.review.records import AnnotationCopy, ScoreReference, StoredScore, Window

# The windows `recent_items_of` reads an annotator's scores in: the first is the last
# hour; past about 15 years, the rest of the history is read at once.
FIRST_WINDOW, LAST_WINDOW = timedelta(hours=1), timedelta(days=366 * 15)


def score_to_document(score: StoredScore) -> Document:
    return to_document(score, "annotation_id", reference=score.reference.value)


def score_from_document(document: Document) -> StoredScore:
    return from_document(
        StoredScore,
        document,
        "annotation_id",
        reference=ScoreReference(document["reference"]),
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
        # The server reads every match before it sorts and limits, so the annotator's
        # scores are read in time windows going back, each twice as long as the one
        # before, until enough are found: the reads stay near `limit` however long the
        # annotator's history. Gold is checked here; beside the range it would scan.
        found: list[Document] = []
        newer: datetime | None = None
        span = FIRST_WINDOW
        while len(found) < limit:
            older = now() - span
            bounds = {"$gte": older} if newer is None else {"$gte": older, "$lt": newer}
            if span > LAST_WINDOW:
                bounds = {"$lt": newer or now()}
            cursor = self.scores.find(
                {"project_id": project_id, "annotator": annotator, "scored_at": bounds},
                {"item_id": 1, "gold": 1, "scored_at": 1},
            )
            window = [d async for d in cursor if not d.get("gold")]
            found += sorted(window, key=lambda d: d["scored_at"], reverse=True)
            if span > LAST_WINDOW:
                break
            newer, span = older, span * 2
        return list(dict.fromkeys(d["item_id"] for d in found[:limit]))


def annotation_to_document(copy: AnnotationCopy) -> Document:
    return to_document(copy, "annotation_id", labels=labels_to_json(copy.labels))


def annotation_from_document(document: Document) -> AnnotationCopy:
    return from_document(
        AnnotationCopy,
        document,
        "annotation_id",
        labels=labels_of(document["labels"]),
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
