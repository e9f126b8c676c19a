"""The inference service's MongoDB collections: items, predictions, each
project's auto-annotation setup, registered remote models, and how people
judged each model's suggestions. (Its view of projects is the shared
`MongoProjectDirectory`.)"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pymongo import ASCENDING, DESCENDING, InsertOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from labelmesh.core.mongo import Document, duplicates_conflict, session_of
from labelmesh.core.uow import Transaction
from labelmesh.inference.domain import CONFIDENCE_BUCKETS
from labelmesh.inference.records import (
    AutoAnnotationSetup,
    BucketCounts,
    Judgement,
    StoredItem,
    StoredPrediction,
)
from labelmesh.v1.events_pb2 import (
    AutoAnnotationRules,
    ItemIngested,
    ModelBinding,
    PredictionCreated,
    PredictionSource,
)
from labelmesh.v1.inference_service_pb2 import RegisterModelRequest


def _now() -> datetime:
    return datetime.now(UTC)


class MongoItemRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["items"]

    async def save(self, tx: Transaction, items: Sequence[StoredItem]) -> None:
        if items:
            await self.collection.bulk_write(
                [
                    UpdateOne(
                        {"_id": i.item_id},
                        {"$set": {"project_id": i.project_id, "item": i.item.SerializeToString()}},
                        upsert=True,
                    )
                    for i in items
                ],
                session=session_of(tx),
            )

    async def get(self, project_id: str, item_ids: Sequence[str]) -> dict[str, ItemIngested]:
        cursor = self.collection.find({"_id": {"$in": list(item_ids)}, "project_id": project_id})
        return {d["_id"]: ItemIngested.FromString(d["item"]) async for d in cursor}


class MongoPredictionRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["predictions"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index(
            [("item_id", ASCENDING), ("source", ASCENDING), ("created_at", DESCENDING)]
        )

    async def save(self, tx: Transaction, predictions: Sequence[StoredPrediction]) -> None:
        if not predictions:
            return
        now = _now()
        with duplicates_conflict("a prediction with this id is already stored"):
            await self.collection.bulk_write(
                [
                    InsertOne(
                        {
                            "_id": p.prediction.prediction_id,
                            "item_id": p.item_id,
                            "project_id": p.project_id,
                            "source": int(p.prediction.source),
                            "prediction": p.prediction.SerializeToString(),
                            "created_at": now,
                        }
                    )
                    for p in predictions
                ],
                session=session_of(tx),
            )

    async def latest_auto(self, item_id: str) -> PredictionCreated | None:
        document = await self.collection.find_one(
            {"item_id": item_id, "source": PredictionSource.PREDICTION_SOURCE_AUTO},
            sort=[("created_at", DESCENDING)],
        )
        return PredictionCreated.FromString(document["prediction"]) if document else None


class MongoSetupRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["auto_annotation"]

    async def get(self, project_id: str) -> AutoAnnotationSetup | None:
        document = await self.collection.find_one({"_id": project_id})
        if document is None:
            return None
        return AutoAnnotationSetup(
            models=tuple(ModelBinding.FromString(b) for b in document["models"]),
            rules=AutoAnnotationRules.FromString(document["rules"]),
        )

    async def replace(
        self, tx: Transaction, project_id: str, setup: AutoAnnotationSetup, expected_version: int
    ) -> bool:
        document = {
            "models": [b.SerializeToString() for b in setup.models],
            "rules": setup.rules.SerializeToString(),
            "version": setup.rules.version,
            "updated_at": _now(),
        }
        try:
            # Another version stored: the filter misses, and the upsert's
            # insert collides on _id.
            await self.collection.update_one(
                {"_id": project_id, "version": expected_version},
                {"$set": document},
                upsert=True,
                session=session_of(tx),
            )
        except DuplicateKeyError:
            return False
        return True


class MongoModelRegistrations:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["models"]

    async def save(self, tx: Transaction, registration: RegisterModelRequest) -> None:
        await self.collection.replace_one(
            {"_id": registration.model.id},
            {
                "_id": registration.model.id,
                "registration": registration.SerializeToString(),
                "updated_at": _now(),
            },
            upsert=True,
            session=session_of(tx),
        )

    async def get(self, model_id: str) -> RegisterModelRequest | None:
        document = await self.collection.find_one({"_id": model_id})
        return RegisterModelRequest.FromString(document["registration"]) if document else None

    async def all(self) -> list[RegisterModelRequest]:
        cursor = self.collection.find({}).sort("_id", ASCENDING)
        return [RegisterModelRequest.FromString(d["registration"]) async for d in cursor]


class MongoJudgementRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["model_quality"]

    async def record(self, tx: Transaction, judgements: Sequence[Judgement]) -> None:
        if judgements:
            await self.collection.bulk_write(
                [
                    UpdateOne(
                        {"_id": j.model_id},
                        {"$inc": {f"buckets.{j.bucket}.{_outcome(j.accepted)}": 1}},
                        upsert=True,
                    )
                    for j in judgements
                ],
                session=session_of(tx),
            )

    async def counts(self, model_id: str) -> list[BucketCounts]:
        document = await self.collection.find_one({"_id": model_id}) or {}
        buckets = document.get("buckets", {})
        return [
            BucketCounts(
                accepted=buckets.get(str(i), {}).get("accepted", 0),
                rejected=buckets.get(str(i), {}).get("rejected", 0),
            )
            for i in range(CONFIDENCE_BUCKETS)
        ]


def _outcome(accepted: bool) -> str:
    return "accepted" if accepted else "rejected"
