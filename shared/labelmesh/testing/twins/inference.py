"""In-memory twins of the inference service's repository ports.

Records are kept in `MemoryState` tables (protos as their serialized bytes,
so that a caller changing a returned message changes nothing stored), which
the in-memory unit of work rolls back with everything else.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from labelmesh.core.errors import Conflict
from labelmesh.core.uow import Transaction
from labelmesh.inference.domain import CONFIDENCE_BUCKETS
from labelmesh.inference.records import (
    AutoAnnotationSetup,
    BucketCounts,
    Judgement,
    StoredItem,
    StoredPrediction,
)
from labelmesh.testing.memory import MemoryState
from labelmesh.v1.events_pb2 import (
    AutoAnnotationRules,
    ItemIngested,
    ModelBinding,
    PredictionCreated,
    PredictionSource,
)
from labelmesh.v1.inference_service_pb2 import RegisterModelRequest


class InMemoryItemRepository:
    def __init__(self, state: MemoryState) -> None:
        self.items = state.table("inference.items")  # item id → (project id, item bytes)

    async def save(self, tx: Transaction, items: Sequence[StoredItem]) -> None:
        for item in items:
            self.items[item.item_id] = (item.project_id, item.item.SerializeToString())

    async def get(self, project_id: str, item_ids: Sequence[str]) -> dict[str, ItemIngested]:
        found = {}
        for item_id in item_ids:
            stored = self.items.get(item_id)
            if stored is not None and stored[0] == project_id:
                found[item_id] = ItemIngested.FromString(stored[1])
        return found


class InMemoryPredictionRepository:
    def __init__(self, state: MemoryState) -> None:
        # prediction id → (sequence, item id, project id, prediction bytes)
        self.predictions = state.table("inference.predictions")
        self._sequence = itertools.count()

    async def save(self, tx: Transaction, predictions: Sequence[StoredPrediction]) -> None:
        ids = [p.prediction.prediction_id for p in predictions]
        if len(set(ids)) != len(ids) or any(i in self.predictions for i in ids):
            raise Conflict("a prediction with this id is already stored")
        for p in predictions:
            self.predictions[p.prediction.prediction_id] = (
                next(self._sequence),
                p.item_id,
                p.project_id,
                p.prediction.SerializeToString(),
            )

    async def known(self, tx: Transaction, prediction_ids: Sequence[str]) -> set[str]:
        return {i for i in prediction_ids if i in self.predictions}

    async def latest_auto(self, item_id: str) -> StoredPrediction | None:
        latest: tuple[int, StoredPrediction] | None = None
        for sequence, stored_item, project_id, raw in self.predictions.values():
            if stored_item != item_id:
                continue
            prediction = PredictionCreated.FromString(raw)
            if prediction.source != PredictionSource.PREDICTION_SOURCE_AUTO:
                continue
            if latest is None or sequence > latest[0]:
                latest = (sequence, StoredPrediction(item_id, project_id, prediction))
        return latest[1] if latest else None


class InMemorySetupRepository:
    def __init__(self, state: MemoryState) -> None:
        # project id → (model binding bytes, rules bytes)
        self.setups = state.table("inference.auto_annotation")

    async def get(self, project_id: str) -> AutoAnnotationSetup | None:
        stored = self.setups.get(project_id)
        if stored is None:
            return None
        models, rules = stored
        return AutoAnnotationSetup(
            tuple(ModelBinding.FromString(b) for b in models), AutoAnnotationRules.FromString(rules)
        )

    async def replace(
        self, tx: Transaction, project_id: str, setup: AutoAnnotationSetup, expected_version: int
    ) -> bool:
        current = await self.get(project_id)
        if current is not None and current.rules.version != expected_version:
            return False
        self.setups[project_id] = (
            tuple(b.SerializeToString() for b in setup.models),
            setup.rules.SerializeToString(),
        )
        return True


class InMemoryModelRegistrations:
    def __init__(self, state: MemoryState) -> None:
        self.registrations = state.table("inference.models")  # model id → registration bytes

    async def save(self, tx: Transaction, registration: RegisterModelRequest) -> None:
        self.registrations[registration.model.id] = registration.SerializeToString()

    async def get(self, model_id: str) -> RegisterModelRequest | None:
        stored = self.registrations.get(model_id)
        return RegisterModelRequest.FromString(stored) if stored is not None else None

    async def all(self) -> list[RegisterModelRequest]:
        return [
            RegisterModelRequest.FromString(self.registrations[model_id])
            for model_id in sorted(self.registrations)
        ]


class InMemoryJudgementRepository:
    def __init__(self, state: MemoryState) -> None:
        # (model id, bucket, accepted) → count
        self.tallies = state.table("inference.model_quality")

    async def record(self, tx: Transaction, judgements: Sequence[Judgement]) -> None:
        for j in judgements:
            key = (j.model_id, j.bucket, j.accepted)
            self.tallies[key] = self.tallies.get(key, 0) + 1

    async def counts(self, model_id: str) -> list[BucketCounts]:
        return [
            BucketCounts(
                accepted=self.tallies.get((model_id, i, True), 0),
                rejected=self.tallies.get((model_id, i, False), 0),
            )
            for i in range(CONFIDENCE_BUCKETS)
        ]
