"""The review service's repositories over one MongoDB database.

Collections: `items` (pipeline.ItemState), `review_tasks`, `decisions` (every
ReviewDecided), `reviewer_decisions`, `scores`, `annotations` (review's copy of
each), `annotators` (gold tally and flag), `gold` (known answers), `policies`
(every version kept), `members` (the copy of the memberships) and `projects`
(the project directory).
"""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document
from labelmesh.core.projects import MongoProjectDirectory
from labelmesh.review.adapters.annotators import MongoAnnotatorRepository, MongoGoldRepository
from labelmesh.review.adapters.decisions import (
    MongoDecisionRepository,
    MongoReviewerDecisionRepository,
)
from labelmesh.review.adapters.items import MongoItemRepository
from labelmesh.review.adapters.members import MongoMemberRepository
from labelmesh.review.adapters.policies import MongoPolicyRepository
from labelmesh.review.adapters.review_tasks import MongoReviewTaskRepository
from labelmesh.review.adapters.scores import MongoAnnotationRepository, MongoScoreRepository
from labelmesh.review.ports import ReviewStore


class MongoReviewStore(ReviewStore):
    """Every review repository on MongoDB, and their indexes."""

    @classmethod
    def on(cls, db: AsyncDatabase[Document]) -> MongoReviewStore:
        return cls(
            projects=MongoProjectDirectory(db),
            policies=MongoPolicyRepository(db),
            items=MongoItemRepository(db),
            tasks=MongoReviewTaskRepository(db),
            decisions=MongoDecisionRepository(db),
            reviewer_decisions=MongoReviewerDecisionRepository(db),
            scores=MongoScoreRepository(db),
            annotations=MongoAnnotationRepository(db),
            annotators=MongoAnnotatorRepository(db),
            gold=MongoGoldRepository(db),
            members=MongoMemberRepository(db),
        )


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    """Create the indexes of every review collection."""
    for repository in (
        MongoAnnotatorRepository(db),
        MongoReviewTaskRepository(db),
        MongoDecisionRepository(db),
        MongoReviewerDecisionRepository(db),
        MongoScoreRepository(db),
        MongoAnnotationRepository(db),
        MongoGoldRepository(db),
        MongoMemberRepository(db),
    ):
        await repository.ensure_indexes()
