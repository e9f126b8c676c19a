"""Pre-labelling: every arriving item is run through its project's models,
one batched call per model for a whole fetch, and the project's rules decide
whether the labels are accepted without review.

An item that comes with predictions made in another tool takes those as its
prediction instead (`imported.py`), and no model runs on it. An item that comes
with people's annotations is never auto-accepted: their work goes to review."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass

from google.protobuf.message import Message

from labelmesh.core.envelopes import model_actor, new_envelope
from labelmesh.core.errors import NotFound, RetryLater
from labelmesh.core.projects import ProjectDirectory
from labelmesh.core.uow import Transaction
from labelmesh.inference import domain
from labelmesh.inference.auto_annotation import AutoAnnotation, label_maps, model_ids
from labelmesh.inference.config import SERVICE
from labelmesh.inference.imported import imported_prediction
from labelmesh.inference.metrics import InferenceMetrics
from labelmesh.inference.ports import ItemRepository, PredictionRepository
from labelmesh.inference.records import AutoAnnotationSetup, StoredItem, StoredPrediction
from labelmesh.inference.running import ItemResult, ModelRuns
from labelmesh.v1.events_pb2 import (
    Actor,
    AnnotationAutoAccepted,
    AutoAnnotationStatus,
    Envelope,
    ItemIngested,
    ModelRef,
    PredictionCreated,
    PredictionFailed,
    PredictionSource,
    ProjectSpec,
)

SUCCESS = AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_SUCCESS
AWAITING_REVIEW = AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_AWAITING_REVIEW


@dataclass(frozen=True)
class Prelabelled:
    """One arrival's pre-labelling, decided before its transaction opens."""

    item: StoredItem
    events: tuple[Envelope, ...]
    outcome: str  # the metric's outcome label
    # Its prediction came with the item: stored once, however often the item comes.
    imported: bool = False

    @property
    def predictions(self) -> list[StoredPrediction]:
        return [
            StoredPrediction(self.item.item_id, self.item.project_id, e.prediction_created)
            for e in self.events
            if e.WhichOneof("payload") == "prediction_created"
        ]


@dataclass(eq=False)
class Prelabelling:
    projects: ProjectDirectory
    auto_annotation: AutoAnnotation
    runs: ModelRuns
    items: ItemRepository
    predictions: PredictionRepository
    metrics: InferenceMetrics

    async def prelabel(
        self,
        arrivals: Sequence[tuple[Envelope, ItemIngested]],
        announced: Mapping[str, ProjectSpec] | None = None,
    ) -> dict[str, Prelabelled]:
        """Run the arrivals' projects' models and decide each item, by event id.

        Each model sees the whole fetch's items at once, so a fetch becomes
        one batched call per model. Nothing is written: `record` does that in
        the fetch's transaction. Projects announced in the same fetch count
        as known; an unknown project is RetryLater.
        """
        projects: dict[str, ProjectSpec] = {}
        setups: dict[str, AutoAnnotationSetup] = {}
        for envelope, _ in arrivals:
            if envelope.project_id not in projects:
                project = (announced or {}).get(envelope.project_id)
                if project is None:
                    project = await self.projects.get(envelope.project_id)
                if project is None:
                    raise RetryLater(f"project {envelope.project_id!r} not known yet")
                projects[envelope.project_id] = project
                setups[envelope.project_id] = await self.auto_annotation.setup(project)

        results = [ItemResult() for _ in arrivals]
        runs: list[Awaitable[None]] = []
        for project_id, project in projects.items():
            indexes = [
                i
                for i, (e, item) in enumerate(arrivals)
                if e.project_id == project_id and not item.imported_predictions
            ]
            if not indexes:
                continue
            items = [arrivals[i][1] for i in indexes]
            prepared = list(zip(items, await self.runs.inputs(project, items), strict=True))
            setup = setups[project_id]
            maps = label_maps(setup)
            for model_id in model_ids(project, setup):
                runs.append(
                    self.runs.run(
                        model_id,
                        maps.get(model_id, {}),
                        project,
                        prepared,
                        [results[i] for i in indexes],
                        explain_skips=False,
                    )
                )
        await asyncio.gather(*runs)

        decided: dict[str, Prelabelled] = {}
        for (envelope, item), result in zip(arrivals, results, strict=True):
            stored = StoredItem(envelope.item_id, envelope.project_id, item)
            setup = setups[envelope.project_id]
            if item.imported_predictions:
                prediction = imported_prediction(
                    envelope.item_id, item, projects[envelope.project_id], setup.rules
                )
                # Whoever imported the item brought its prediction.
                brought = _envelope(envelope, prediction, envelope.actor)
                decided[envelope.event_id] = Prelabelled(stored, (brought,), "imported", True)
                continue
            may_accept = not item.imported_annotations
            events, outcome = _outcome(envelope, setup, result, may_auto_accept=may_accept)
            decided[envelope.event_id] = Prelabelled(stored, tuple(events), outcome)
        return decided

    async def record(self, tx: Transaction, labelled: Sequence[Prelabelled]) -> list[Prelabelled]:
        """Store the items and their predictions and emit the events, in `tx`; an
        imported prediction stored before is neither stored nor announced again.
        Returns what was recorded."""
        imported = [i for p in labelled if p.imported for i in _ids(p)]
        known = await self.predictions.known(tx, imported) if imported else set()
        recorded = []
        for prelabelled in labelled:
            if prelabelled.imported:
                if _ids(prelabelled) & known:
                    continue
                known |= _ids(prelabelled)  # the same item twice in one fetch
            recorded.append(prelabelled)
        await self.items.save(tx, [p.item for p in recorded])
        await self.predictions.save(tx, [s for p in recorded for s in p.predictions])
        for prelabelled in recorded:
            tx.emit(*prelabelled.events)
        return recorded

    def counted(self, labelled: Sequence[Prelabelled]) -> None:
        """Metrics of pre-labelling once it is committed."""
        for prelabelled in labelled:
            self.metrics.predictions.labels(prelabelled.outcome).inc()

    async def latest(self, item_id: str) -> PredictionCreated:
        """The item's most recent pre-labelling prediction."""
        return (await self.latest_stored(item_id)).prediction

    async def latest_stored(self, item_id: str) -> StoredPrediction:
        """The item's most recent pre-labelling prediction, with its project."""
        stored = await self.predictions.latest_auto(item_id)
        if stored is None:
            raise NotFound("prediction for item", item_id)
        return stored


def _ids(prelabelled: Prelabelled) -> set[str]:
    return {s.prediction.prediction_id for s in prelabelled.predictions}


def _envelope(cause: Envelope, payload: Message, actor: Actor) -> Envelope:
    return new_envelope(
        payload,
        producer=SERVICE,
        actor=actor,
        project_id=cause.project_id,
        item_id=cause.item_id,
        trace_id=cause.trace_id,
    )


def _outcome(
    cause: Envelope, setup: AutoAnnotationSetup, result: ItemResult, *, may_auto_accept: bool
) -> tuple[list[Envelope], str]:
    """The events recording one item's pre-labelling, and its metric outcome."""
    prediction_id = str(uuid.uuid4())
    rules = setup.rules

    def envelope(payload: Message, model: ModelRef) -> Envelope:
        return _envelope(cause, payload, model_actor(model.id, model.version))

    if result.failures and not result.models:
        model, failure = result.failures[0]
        reasons = "; ".join(f.reason for _, f in result.failures)
        failed = PredictionFailed(
            prediction_id=prediction_id,
            model=model,
            reason=reasons,
            field=failure.field,
            source=PredictionSource.PREDICTION_SOURCE_AUTO,
        )
        return [envelope(failed, model)], "failed"

    decision = domain.decide(result.labels, rules)
    if (
        not may_auto_accept
        and decision.status == AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_SUCCESS
    ):
        decision = domain.Decision(
            decision.labels, AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_AWAITING_REVIEW
        )
    model = result.models[0] if result.models else ModelRef()
    prediction = PredictionCreated(
        prediction_id=prediction_id,
        model=model,
        models=result.models,
        labels=decision.labels,
        auto_accepted=decision.status == AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_SUCCESS,
        threshold=rules.default_min_confidence,
        status=decision.status,
        rule_version=rules.version,
        source=PredictionSource.PREDICTION_SOURCE_AUTO,
    )
    if not result.models:
        prediction.skipped_reason = "no model of this project reads this item's data type"
    events = [envelope(prediction, model)]
    if prediction.auto_accepted:
        accepted = AnnotationAutoAccepted(
            annotation_id=str(uuid.uuid4()),
            prediction_id=prediction_id,
            model=model,
            labels=decision.labels,
            threshold=rules.default_min_confidence,
            rule_version=rules.version,
        )
        events.append(envelope(accepted, model))
    outcome = AutoAnnotationStatus.Name(decision.status).removeprefix("AUTO_ANNOTATION_STATUS_")
    return events, {"SUCCESS": "auto_accepted"}.get(outcome, outcome.lower())
