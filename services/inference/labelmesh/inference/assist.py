"""AI Assist: a model's suggestions for stored items on demand, and zero-shot
class probabilities for texts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from labelmesh.core.envelopes import Acting, acting_actor, new_envelope
from labelmesh.core.errors import InvalidField, NotFound, RetryLater
from labelmesh.core.uow import UnitOfWork
from labelmesh.inference.auto_annotation import AutoAnnotation, label_maps, model_ids
from labelmesh.inference.config import SERVICE
from labelmesh.inference.models.base import ModelInput
from labelmesh.inference.models.catalog import ZERO_SHOT
from labelmesh.inference.ports import ItemRepository, PredictionRepository
from labelmesh.inference.records import StoredPrediction
from labelmesh.inference.registry import ModelRegistry, ref
from labelmesh.inference.running import ItemResult, ModelRuns
from labelmesh.inference.runtime import Failure
from labelmesh.v1.events_pb2 import (
    Envelope,
    ModelRef,
    PredictionCreated,
    PredictionFailed,
    PredictionSource,
)
from labelmesh.v1.geometry_pb2 import Label

MAX_TEXTS = 256
MAX_ASSIST_ITEMS = 64


@dataclass
class ItemSuggestions:
    item_id: str
    prediction_id: str = ""
    labels: list[Label] = field(default_factory=list)
    error: str = ""


@dataclass(frozen=True)
class TextPredictions:
    model: ModelRef
    # Per text, the project's classes with their probabilities, most likely first.
    ranked: list[list[Label]]


@dataclass(eq=False)
class Assist:
    auto_annotation: AutoAnnotation
    registry: ModelRegistry
    runs: ModelRuns
    items: ItemRepository
    predictions: PredictionRepository
    uow: UnitOfWork

    async def predict_text(self, project_id: str, texts: Sequence[str]) -> TextPredictions:
        """Zero-shot class probabilities per text, most likely first."""
        if not texts:
            raise InvalidField("texts", "at least one text is required")
        if len(texts) > MAX_TEXTS:
            raise InvalidField("texts", f"at most {MAX_TEXTS} texts per call")
        for index, text in enumerate(texts):
            if not text.strip():
                raise InvalidField(f"texts[{index}]", "must not be blank")
        project = await self.auto_annotation.project(project_id)
        runner = self.registry.built_in(ZERO_SHOT)
        outcomes = await runner.run(
            [ModelInput(text=text, classes=tuple(project.classes)) for text in texts]
        )
        ranked = []
        for outcome in outcomes:
            if isinstance(outcome, Failure):
                raise RetryLater(outcome.reason)
            ranked.append(outcome)
        return TextPredictions(ref(runner.spec), ranked)

    async def assist(
        self,
        project_id: str,
        item_ids: Sequence[str],
        model_id: str,
        min_confidence: float,
        user: Acting,
    ) -> tuple[ModelRef, list[ItemSuggestions]]:
        """AI Assist: a model's suggestions for stored items, recorded so that
        the annotation service shows them on the items' tasks."""
        if not item_ids:
            raise InvalidField("item_ids", "at least one item id is required")
        if len(item_ids) > MAX_ASSIST_ITEMS:
            raise InvalidField("item_ids", f"at most {MAX_ASSIST_ITEMS} items per call")
        if not 0.0 <= min_confidence <= 1.0:
            raise InvalidField("min_confidence", f"must be between 0 and 1, not {min_confidence}")
        project = await self.auto_annotation.project(project_id)
        setup = await self.auto_annotation.setup(project)
        if not model_id:
            candidates = model_ids(project, setup)
            if not candidates:
                raise InvalidField("model_id", "the project has no models; name one")
            model_id = candidates[0]
        runner = await self.registry.runner(model_id)
        if runner is None:
            raise NotFound("model", model_id)
        unique_ids = list(dict.fromkeys(item_ids))
        found = await self.items.get(project_id, unique_ids)
        stored = [found[i] for i in unique_ids if i in found]
        results = [ItemResult() for _ in stored]
        inputs = await self.runs.inputs(project, stored)
        await self.runs.run(
            model_id,
            label_maps(setup).get(model_id, {}),
            project,
            list(zip(stored, inputs, strict=True)),
            results,
            explain_skips=True,
        )
        by_item = dict(zip([i for i in unique_ids if i in found], results, strict=True))

        model = ref(runner.spec)
        actor = acting_actor(user)
        answers: list[ItemSuggestions] = []
        events: list[Envelope] = []
        for item_id in item_ids:
            result = by_item.get(item_id)
            if result is None:
                answers.append(ItemSuggestions(item_id, error="no such item in this project"))
                continue
            prediction_id = str(uuid.uuid4())
            if result.failures:
                failure = result.failures[0][1]
                answers.append(ItemSuggestions(item_id, prediction_id, error=failure.reason))
                payload: PredictionCreated | PredictionFailed = PredictionFailed(
                    prediction_id=prediction_id,
                    model=model,
                    reason=failure.reason,
                    field=failure.field,
                    source=PredictionSource.PREDICTION_SOURCE_ASSIST,
                )
            else:
                labels = [lb for lb in result.labels if lb.confidence >= min_confidence]
                answers.append(ItemSuggestions(item_id, prediction_id, labels))
                payload = PredictionCreated(
                    prediction_id=prediction_id,
                    model=model,
                    models=[model],
                    labels=labels,
                    source=PredictionSource.PREDICTION_SOURCE_ASSIST,
                )
            events.append(
                new_envelope(
                    payload, producer=SERVICE, actor=actor, project_id=project_id, item_id=item_id
                )
            )
        async with self.uow.begin() as tx:
            await self.predictions.save(
                tx,
                [
                    StoredPrediction(e.item_id, e.project_id, e.prediction_created)
                    for e in events
                    if e.WhichOneof("payload") == "prediction_created"
                ],
            )
            tx.emit(*events)
        return model, answers
