"""The inference service's MongoDB collections: predictions, and its view of projects."""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document, Transaction
from labelmesh.v1.events_pb2 import PredictionCreated, ProjectSpec


class InferenceRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.projects = db["projects"]
        self.predictions = db["predictions"]

    async def save_project(self, tx: Transaction, project: ProjectSpec) -> None:
        await self.projects.replace_one(
            {"_id": project.project_id},
            {"_id": project.project_id, "spec": project.SerializeToString()},
            upsert=True,
            session=tx.session,
        )

    async def get_project(self, project_id: str) -> ProjectSpec | None:
        document = await self.projects.find_one({"_id": project_id})
        return ProjectSpec.FromString(document["spec"]) if document else None

    async def save_prediction(
        self, tx: Transaction, project_id: str, item_id: str, prediction: PredictionCreated
    ) -> None:
        await self.predictions.replace_one(
            {"_id": item_id},
            {
                "_id": item_id,
                "project_id": project_id,
                "prediction": prediction.SerializeToString(),
                "created_at": datetime.now(UTC),
            },
            upsert=True,
            session=tx.session,
        )

    async def get_prediction(self, item_id: str) -> PredictionCreated | None:
        document = await self.predictions.find_one({"_id": item_id})
        return PredictionCreated.FromString(document["prediction"]) if document else None
