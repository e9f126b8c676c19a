"""The inference service's MongoDB collections: items, predictions, each
project's auto-annotation setup, registered remote models, and how people
judged each model's suggestions. (Its view of projects is the shared
`MongoProjectDirectory`.)"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pymongo import ASCENDING, DESCENDING, InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from labelmesh.core.mongo import Document, duplicates_conflict, find_in, session_of
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
        latest = {i.item_id: i for i in items}
        if not latest:
            return
        session = session_of(tx)
        found = await find_in(self.collection, "_id", latest, session, {"_id": 1})
        stored = {d["_id"] for d in found}
        # New items are inserted: on SecantusDB an insert costs a third of an upsert.
        writes: list[InsertOne[Document] | ReplaceOne[Document]] = [
            ReplaceOne({"_id": item_id}, item_document(item))
            if item_id in stored
            else InsertOne(item_document(item))
            for item_id, item in latest.items()
        ]
        await self.collection.bulk_write(writes, ordered=False, session=session)

    async def get(self, project_id: str, item_ids: Sequence[str]) -> dict[str, ItemIngested]:
        # By _id alone: a second field beside it makes SecantusDB scan the collection.
        return {
            d["_id"]: ItemIngested.FromString(d["item"])
            for d in await find_in(self.collection, "_id", item_ids)
            if d["project_id"] == project_id
        }


def item_document(item: StoredItem) -> Document:
    return {
        "_id": item.item_id,
        "project_id": item.project_id,
        "item": item.item.SerializeToString(),
    }


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
                [InsertOne(prediction_document(p, now)) for p in predictions],
                session=session_of(tx),
            )

    async def known(self, tx: Transaction, prediction_ids: Sequence[str]) -> set[str]:
        found = await find_in(
            self.collection, "_id", prediction_ids, session_of(tx), projection={"_id": 1}
        )
        return {d["_id"] for d in found}

    async def latest_auto(self, item_id: str) -> StoredPrediction | None:
        document = await self.collection.find_one(
            {"item_id": item_id, "source": PredictionSource.PREDICTION_SOURCE_AUTO},
            sort=[("created_at", DESCENDING)],
        )
        if document is None:
            return None
        prediction = PredictionCreated.FromString(document["prediction"])
        return StoredPrediction(item_id, document["project_id"], prediction)


def prediction_document(stored: StoredPrediction, created_at: datetime) -> Document:
    return {
        "_id": stored.prediction.prediction_id,
        "item_id": stored.item_id,
        "project_id": stored.project_id,
        "source": int(stored.prediction.source),
        "prediction": stored.prediction.SerializeToString(),
        "created_at": created_at,
    }


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
