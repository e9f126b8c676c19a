"""Everything the review APIs call, in one place for the REST and gRPC adapters."""

from __future__ import annotations

from dataclasses import dataclass

from labelmesh.review.contexts import ProjectContexts
from labelmesh.review.ports import ReviewStore
from labelmesh.review.quality import Quality
from labelmesh.review.records import ReviewState
from labelmesh.review.review_tasks import ReviewTasks
from labelmesh.v1.events_pb2 import ReviewDecided, ReviewPolicy
from labelmesh.v1.geometry_pb2 import Label


@dataclass(frozen=True)
class ItemStatus:
    """An item's decisions, oldest first, and where it stands."""

    reviews: list[ReviewDecided]
    state: ReviewState | None  # None for an item the review has not seen
    final_labels: list[Label]
    project_id: str = ""  # empty for an item the review has not seen

    @property
    def completed(self) -> bool:
        return self.state == ReviewState.COMPLETED


@dataclass(frozen=True)
class ReviewApi:
    store: ReviewStore
    contexts: ProjectContexts
    tasks: ReviewTasks
    quality: Quality

    async def item_status(self, item_id: str) -> ItemStatus:
        """An item's decisions, oldest first, and where it stands (no state if unknown)."""
        # State first: the decisions that completed an item commit with it, so reading
        # them second can only find more of them, never miss those the state reflects.
        item = await self.store.items.get(item_id)
        reviews = await self.store.decisions.of_item(item_id)
        if item is None:
            return ItemStatus(reviews, None, [])
        final = item.labels if item.state == ReviewState.COMPLETED else []
        return ItemStatus(reviews, item.state, final, item.project_id)

    async def item_project(self, item_id: str) -> str | None:
        """The project of an item under review, or None if review does not know it."""
        item = await self.store.items.get(item_id)
        return item.project_id if item else None

    async def policy(self, project_id: str) -> ReviewPolicy:
        """The project's policy in force, with its members."""
        return await self.contexts.policy_with_members(project_id)
