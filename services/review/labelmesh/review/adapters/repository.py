"""The review service's MongoDB collections: reviews, and its view of projects."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document, Transaction
from labelmesh.core.projects import ProjectViews
from labelmesh.v1.events_pb2 import Envelope, ReviewDecided, ReviewDecision


class ReviewRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.projects = ProjectViews(db)
        self.reviews = db["reviews"]

    async def ensure_indexes(self) -> None:
        await self.reviews.create_index("annotation_id", unique=True)
        await self.reviews.create_index("item_id")

    async def insert_reviews(
        self, tx: Transaction, reviews: Sequence[tuple[Envelope, ReviewDecided, str]]
    ) -> None:
        """Store decisions; each comes with the event that caused it and the label source."""
        if not reviews:
            return
        now = datetime.now(UTC)
        await self.reviews.insert_many(
            [
                {
                    "_id": review.review_id,
                    "annotation_id": review.annotation_id,
                    "project_id": cause.project_id,
                    "item_id": cause.item_id,
                    "source": source,
                    "approved": review.decision == ReviewDecision.REVIEW_DECISION_APPROVED,
                    "review": review.SerializeToString(),
                    "created_at": now,
                }
                for cause, review, source in reviews
            ],
            session=tx.session,
        )

    async def reviews_of_item(self, item_id: str) -> list[ReviewDecided]:
        documents = (
            await self.reviews.find({"item_id": item_id}).sort("created_at", 1).to_list(None)
        )
        return [ReviewDecided.FromString(d["review"]) for d in documents]
