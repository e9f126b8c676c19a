"""The inference service's MongoDB collections: predictions, and its view of projects."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pymongo import ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document, Transaction
from labelmesh.core.projects import ProjectViews
from labelmesh.v1.events_pb2 import Envelope, PredictionCreated


class InferenceRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.projects = ProjectViews(db)
        self.predictions = db["predictions"]

    async def save_predictions(
        self, tx: Transaction, predictions: Sequence[tuple[Envelope, PredictionCreated]]
    ) -> None:
        """Store each item's prediction, replacing an earlier one; one round trip."""
        if not predictions:
            return
        now = datetime.now(UTC)
        await self.predictions.bulk_write(
            [
                ReplaceOne(
                    {"_id": cause.item_id},
                    {
                        "_id": cause.item_id,
                        "project_id": cause.project_id,
                        "prediction": prediction.SerializeToString(),
                        "created_at": now,
                    },
                    upsert=True,
                )
                for cause, prediction in predictions
            ],
            session=tx.session,
        )

    async def get_prediction(self, item_id: str) -> PredictionCreated | None:
        document = await self.predictions.find_one({"_id": item_id})
        return PredictionCreated.FromString(document["prediction"]) if document else None
