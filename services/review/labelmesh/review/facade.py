"""Everything the review APIs call, in one place for the REST and gRPC adapters."""

from __future__ import annotations

from dataclasses import dataclass

from labelmesh.review import pipeline
from labelmesh.review.quality import Quality
from labelmesh.review.review_tasks import ReviewTasks
from labelmesh.review.usecases import Review
from labelmesh.v1.events_pb2 import ReviewDecided
from labelmesh.v1.geometry_pb2 import Label


@dataclass(frozen=True)
class ItemStatus:
    reviews: list[ReviewDecided]
    state: str
    final_labels: list[Label]

    @property
    def completed(self) -> bool:
        return self.state == pipeline.COMPLETED


@dataclass(frozen=True)
class ReviewApi:
    review: Review
    tasks: ReviewTasks
    quality: Quality

    async def item_status(self, item_id: str) -> ItemStatus:
        """An item's decisions, oldest first, and where it stands (empty state if unknown)."""
        reviews, item = await self.review.item_reviews(item_id)
        if item is None:
            return ItemStatus(reviews, "", [])
        final = item.labels if item.state == pipeline.COMPLETED else []
        return ItemStatus(reviews, item.state, final)
