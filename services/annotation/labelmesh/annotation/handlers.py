"""Event handlers of the annotation service."""

from __future__ import annotations

from dataclasses import dataclass

from labelmesh.annotation.adapters.repository import (
    AUTO_ACCEPTED,
    COMPLETED,
    OPEN,
    AnnotationRepository,
)
from labelmesh.annotation.metrics import AnnotationMetrics
from labelmesh.annotation.usecases import SERVICE
from labelmesh.core.bus import Handler
from labelmesh.core.envelopes import new_envelope, service_actor
from labelmesh.core.labels import labels_to_json
from labelmesh.core.mongo import UnitOfWork
from labelmesh.core.topics import ITEMS, PREDICTIONS, REVIEWS
from labelmesh.v1.events_pb2 import (
    AnnotationAutoAccepted,
    Envelope,
    ItemIngested,
    PredictionCreated,
    ReviewDecided,
    ReviewDecision,
    TaskCreated,
)


@dataclass(frozen=True)
class Deps:
    uow: UnitOfWork
    repository: AnnotationRepository
    metrics: AnnotationMetrics


async def on_item_ingested(deps: Deps, envelope: Envelope, event: ItemIngested) -> None:
    async with deps.uow.begin() as tx:
        if await tx.claim_event(envelope.event_id, SERVICE):
            await deps.repository.record_item(tx, envelope.project_id, envelope.item_id, event)


async def on_prediction_created(deps: Deps, envelope: Envelope, event: PredictionCreated) -> None:
    """A confident prediction needs no task; any other becomes a task with the suggestion."""
    if event.auto_accepted:
        return  # AnnotationAutoAccepted records the annotation
    async with deps.uow.begin() as tx:
        if not await tx.claim_event(envelope.event_id, SERVICE):
            return
        task = await deps.repository.record_suggestion(
            tx, envelope.project_id, envelope.item_id, list(event.labels), event.model, OPEN
        )
        tx.emit(
            new_envelope(
                TaskCreated(
                    task_id=task["_id"], suggestion=event.labels, suggestion_model=event.model
                ),
                producer=SERVICE,
                actor=service_actor(SERVICE),
                project_id=envelope.project_id,
                item_id=envelope.item_id,
                trace_id=envelope.trace_id,
            )
        )
    deps.metrics.tasks_created.labels(str(bool(event.labels)).lower()).inc()


async def on_auto_accepted(deps: Deps, envelope: Envelope, event: AnnotationAutoAccepted) -> None:
    async with deps.uow.begin() as tx:
        if not await tx.claim_event(envelope.event_id, SERVICE):
            return
        task = await deps.repository.record_suggestion(
            tx,
            envelope.project_id,
            envelope.item_id,
            list(event.labels),
            event.model,
            AUTO_ACCEPTED,
        )
        await deps.repository.insert_annotation(
            tx,
            {
                "_id": event.annotation_id,
                "task_id": task["_id"],
                "item_id": envelope.item_id,
                "project_id": envelope.project_id,
                "annotator": envelope.actor.id,
                "source": "model",
                "labels": labels_to_json(event.labels),
                "threshold": event.threshold,
            },
        )
    deps.metrics.annotations.labels("model").inc()


async def on_review_decided(deps: Deps, envelope: Envelope, event: ReviewDecided) -> None:
    """Approved work closes the task; rejected work reopens it for another pass."""
    if not event.task_id:
        return
    async with deps.uow.begin() as tx:
        if not await tx.claim_event(envelope.event_id, SERVICE):
            return
        if event.decision == ReviewDecision.REVIEW_DECISION_REJECTED:
            await deps.repository.set_task_status(tx, event.task_id, OPEN, reopen=True)
        else:
            await deps.repository.set_task_status(tx, event.task_id, COMPLETED)


CONSUMES = (ITEMS, PREDICTIONS, REVIEWS)
HANDLERS: dict[str, Handler] = {
    ItemIngested.DESCRIPTOR.full_name: on_item_ingested,
    PredictionCreated.DESCRIPTOR.full_name: on_prediction_created,
    AnnotationAutoAccepted.DESCRIPTOR.full_name: on_auto_accepted,
    ReviewDecided.DESCRIPTOR.full_name: on_review_decided,
}
