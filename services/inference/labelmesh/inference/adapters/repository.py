"""The inference service's MongoDB collections: its views of projects and
items, predictions, each project's auto-annotation setup, registered remote
models, and how people judged each model's suggestions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pymongo import ASCENDING, DESCENDING, InsertOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from labelmesh.core.mongo import Document, Transaction
from labelmesh.core.projects import ProjectViews
from labelmesh.inference.domain import CONFIDENCE_BUCKETS
from labelmesh.v1.events_pb2 import (
    AutoAnnotationRules,
    Envelope,
    ItemIngested,
    ModelBinding,
    PredictionCreated,
    PredictionSource,
)
from labelmesh.v1.inference_service_pb2 import RegisterModelRequest


@dataclass(frozen=True)
class StoredItem:
    item_id: str
    project_id: str
    item: ItemIngested


@dataclass(frozen=True)
class AutoAnnotationSetup:
    models: list[ModelBinding]
    rules: AutoAnnotationRules


def _now() -> datetime:
    return datetime.now(UTC)


class InferenceRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.projects = ProjectViews(db)
        self.items = db["items"]
        self.predictions = db["predictions"]
        self.setups = db["auto_annotation"]
        self.models = db["models"]
        self.quality = db["model_quality"]

    async def ensure_indexes(self) -> None:
        await self.predictions.create_index(
            [("item_id", ASCENDING), ("source", ASCENDING), ("created_at", DESCENDING)]
        )

    # Items, as announced by ItemIngested.

    async def save_items(self, tx: Transaction, items: Sequence[StoredItem]) -> None:
        if items:
            await self.items.bulk_write(
                [
                    UpdateOne(
                        {"_id": i.item_id},
                        {"$set": {"project_id": i.project_id, "item": i.item.SerializeToString()}},
                        upsert=True,
                    )
                    for i in items
                ],
                session=tx.session,
            )

    async def get_items(self, project_id: str, item_ids: Sequence[str]) -> dict[str, ItemIngested]:
        cursor = self.items.find({"_id": {"$in": list(item_ids)}, "project_id": project_id})
        return {d["_id"]: ItemIngested.FromString(d["item"]) async for d in cursor}

    # Predictions.

    async def save_predictions(
        self, tx: Transaction, predictions: Sequence[tuple[Envelope, PredictionCreated]]
    ) -> None:
        if not predictions:
            return
        now = _now()
        await self.predictions.bulk_write(
            [
                InsertOne(
                    {
                        "_id": prediction.prediction_id,
                        "item_id": cause.item_id,
                        "project_id": cause.project_id,
                        "source": int(prediction.source),
                        "prediction": prediction.SerializeToString(),
                        "created_at": now,
                    }
                )
                for cause, prediction in predictions
            ],
            session=tx.session,
        )

    async def latest_prediction(self, item_id: str) -> PredictionCreated | None:
        document = await self.predictions.find_one(
            {"item_id": item_id, "source": PredictionSource.PREDICTION_SOURCE_AUTO},
            sort=[("created_at", DESCENDING)],
        )
        return PredictionCreated.FromString(document["prediction"]) if document else None

    # Auto-annotation setups, versioned.

    async def get_setup(self, project_id: str) -> AutoAnnotationSetup | None:
        document = await self.setups.find_one({"_id": project_id})
        if document is None:
            return None
        return AutoAnnotationSetup(
            models=[ModelBinding.FromString(b) for b in document["models"]],
            rules=AutoAnnotationRules.FromString(document["rules"]),
        )

    async def replace_setup(
        self, tx: Transaction, project_id: str, setup: AutoAnnotationSetup, expected_version: int
    ) -> bool:
        """Store a new version over `expected_version`; False when another
        writer got there first. A project with no stored setup is at version 1."""
        document = {
            "models": [b.SerializeToString() for b in setup.models],
            "rules": setup.rules.SerializeToString(),
            "version": setup.rules.version,
            "updated_at": _now(),
        }
        try:
            await self.setups.update_one(
                {"_id": project_id, "version": expected_version},
                {"$set": document},
                upsert=True,
                session=tx.session,
            )
        except DuplicateKeyError:
            return False
        return True

    # Remote models.

    async def save_model(self, registration: RegisterModelRequest) -> None:
        await self.models.replace_one(
            {"_id": registration.model.id},
            {
                "_id": registration.model.id,
                "registration": registration.SerializeToString(),
                "updated_at": _now(),
            },
            upsert=True,
        )

    async def get_model(self, model_id: str) -> RegisterModelRequest | None:
        document = await self.models.find_one({"_id": model_id})
        return RegisterModelRequest.FromString(document["registration"]) if document else None

    async def list_models(self) -> list[RegisterModelRequest]:
        cursor = self.models.find({}).sort("_id", ASCENDING)
        return [RegisterModelRequest.FromString(d["registration"]) async for d in cursor]

    # How people judged suggestions.

    async def record_judgements(
        self, tx: Transaction, judgements: Sequence[tuple[str, int, bool]]
    ) -> None:
        """Count (model id, confidence bucket, accepted) judgements."""
        if judgements:
            await self.quality.bulk_write(
                [
                    UpdateOne(
                        {"_id": model_id},
                        {"$inc": {f"buckets.{bucket}.{_outcome(accepted)}": 1}},
                        upsert=True,
                    )
                    for model_id, bucket, accepted in judgements
                ],
                session=tx.session,
            )

    async def judgements(self, model_id: str) -> list[tuple[int, int]]:
        """(accepted, rejected) per confidence bucket, lowest bucket first."""
        document = await self.quality.find_one({"_id": model_id}) or {}
        buckets = document.get("buckets", {})
        return [
            (
                buckets.get(str(i), {}).get("accepted", 0),
                buckets.get(str(i), {}).get("rejected", 0),
            )
            for i in range(CONFIDENCE_BUCKETS)
        ]


def _outcome(accepted: bool) -> str:
    return "accepted" if accepted else "rejected"
