"""Event handlers of the annotation service.

Every handler goes through `on_fetch`, which records a whole fetch in one
transaction, with the task updates in event order (bulk writes between
rejections); single events are a fetch of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import UpdateOne

from labelmesh.annotation.adapters import task_updates
from labelmesh.annotation.adapters.repository import AnnotationRepository
from labelmesh.annotation.config import SERVICE
from labelmesh.annotation.metrics import AnnotationMetrics
from labelmesh.annotation.queue import AUTO_ACCEPTED, OPEN
from labelmesh.core.bus import Handler
from labelmesh.core.envelopes import new_envelope, payload_of, service_actor
from labelmesh.core.labels import labels_to_json
from labelmesh.core.mongo import Transaction, UnitOfWork
from labelmesh.core.topics import ITEMS, PREDICTIONS, PROJECTS, REVIEWS
from labelmesh.v1.events_pb2 import (
    AnnotationAutoAccepted,
    Envelope,
    GoldStandardSet,
    ItemCompleted,
    ItemIngested,
    PredictionCreated,
    PredictionFailed,
    PredictionSource,
    ReviewDecided,
    ReviewDecision,
    ReviewPolicyConfigured,
    TaskCreated,
)

# Events that may create an item's task, which then takes its project's overlap.
CREATES_TASK = (
    ItemIngested,
    PredictionCreated,
    PredictionFailed,
    AnnotationAutoAccepted,
    GoldStandardSet,
)


@dataclass(frozen=True)
class Deps:
    uow: UnitOfWork
    repository: AnnotationRepository
    metrics: AnnotationMetrics


class TaskWrites:
    """Task updates in event order: bulk where possible, one by one for rework,
    whose outcome (reopened or stale) is counted."""

    def __init__(self, tx: Transaction, repository: AnnotationRepository) -> None:
        self.tx, self.repository = tx, repository
        self.pending: list[UpdateOne] = []
        self.reworked: list[bool] = []

    def add(self, update: UpdateOne) -> None:
        self.pending.append(update)

    async def flush(self) -> None:
        await self.repository.write_tasks(self.tx, self.pending)
        self.pending = []

    async def decide(self, event: ReviewDecided) -> None:
        if event.decision == ReviewDecision.REVIEW_DECISION_REJECTED:
            await self.flush()
            self.reworked.append(await self.repository.reopen(self.tx, event.task_id, event.round))
        elif event.decision == ReviewDecision.REVIEW_DECISION_APPROVED:
            self.add(task_updates.complete_update(event.task_id))


Suggested = tuple[Envelope, PredictionCreated | PredictionFailed | AnnotationAutoAccepted]


async def on_fetch(deps: Deps, envelopes: list[Envelope]) -> None:
    repository = deps.repository
    async with deps.uow.begin() as tx:
        fresh = await tx.claim_new(envelopes, SERVICE)
        for envelope in fresh:
            event = payload_of(envelope)
            if isinstance(event, ReviewPolicyConfigured):
                # Tasks created from now on take its overlap; existing tasks keep theirs.
                await repository.update_review_policy(tx, envelope.project_id, event.policy)
        creating = {e.project_id for e in fresh if isinstance(payload_of(e), CREATES_TASK)}
        overlaps = await repository.overlaps(tx, creating) if creating else {}
        writes = TaskWrites(tx, repository)
        suggested: list[Suggested] = []
        for envelope in fresh:
            suggestion = await _update_task(writes, envelope, overlaps)
            if suggestion is not None:
                suggested.append((envelope, suggestion))
        await writes.flush()
        opened, model_annotations = await _record_suggestions(tx, repository, suggested)
    for with_suggestion in opened:
        deps.metrics.tasks_created.labels(str(with_suggestion).lower()).inc()
    deps.metrics.annotations.labels("model").inc(model_annotations)
    for reopened in writes.reworked:
        deps.metrics.rework_decisions.labels("reopened" if reopened else "ignored").inc()


async def _update_task(
    writes: TaskWrites, envelope: Envelope, overlaps: dict[str, int]
) -> PredictionCreated | PredictionFailed | AnnotationAutoAccepted | None:
    """Queue the event's change to its item's task; returns it if it brings a suggestion."""
    event = payload_of(envelope)
    project_id, item_id = envelope.project_id, envelope.item_id
    overlap = overlaps.get(project_id, 1)
    if isinstance(event, ItemIngested):
        writes.add(task_updates.item_update(project_id, item_id, event, overlap))
    elif isinstance(event, GoldStandardSet) and item_id:
        # The answer stays with review; the task only learns that it is gold.
        writes.add(task_updates.gold_update(project_id, item_id, overlap))
    elif isinstance(event, PredictionCreated | PredictionFailed) and (
        event.source == PredictionSource.PREDICTION_SOURCE_ASSIST
    ):
        # Suggestions asked for on demand join the task, if it still waits.
        if isinstance(event, PredictionCreated) and event.labels:
            writes.add(task_updates.assist_update(item_id, event.labels))
    elif isinstance(event, PredictionCreated) and not event.auto_accepted:
        # A confident prediction needs no task; AnnotationAutoAccepted records it.
        writes.add(
            task_updates.suggestion_update(
                project_id, item_id, event.labels, event.model, OPEN, overlap
            )
        )
        return event
    elif isinstance(event, PredictionFailed):
        # The model could not read the item: a person labels it from scratch.
        writes.add(
            task_updates.suggestion_update(
                project_id, item_id, [], event.model, OPEN, overlap, event.reason
            )
        )
        return event
    elif isinstance(event, AnnotationAutoAccepted):
        writes.add(
            task_updates.suggestion_update(
                project_id, item_id, event.labels, event.model, AUTO_ACCEPTED, overlap
            )
        )
        return event
    elif isinstance(event, ReviewDecided) and event.task_id:
        # Approved work closes the task; rejected work reopens its round, once.
        await writes.decide(event)
    elif isinstance(event, ItemCompleted) and item_id:
        writes.add(task_updates.item_completed_update(item_id))
    return None


async def _record_suggestions(
    tx: Transaction, repository: AnnotationRepository, suggested: list[Suggested]
) -> tuple[list[bool], int]:
    """Announce tasks that got a suggestion and store auto-accepted annotations.

    Returns whether each opened task carries a suggestion, and how many model
    annotations were stored.
    """
    if not suggested:
        return [], 0
    task_ids = await repository.task_ids(tx, [e.item_id for e, _ in suggested])
    opened: list[bool] = []
    annotations = []
    for envelope, event in suggested:
        task_id = task_ids[envelope.item_id]
        if isinstance(event, PredictionCreated | PredictionFailed):
            labels = event.labels if isinstance(event, PredictionCreated) else []
            tx.emit(
                new_envelope(
                    TaskCreated(task_id=task_id, suggestion=labels, suggestion_model=event.model),
                    producer=SERVICE,
                    actor=service_actor(SERVICE),
                    project_id=envelope.project_id,
                    item_id=envelope.item_id,
                    trace_id=envelope.trace_id,
                )
            )
            opened.append(bool(labels))
        else:
            annotations.append(
                {
                    "_id": event.annotation_id,
                    "task_id": task_id,
                    "item_id": envelope.item_id,
                    "project_id": envelope.project_id,
                    "annotator": envelope.actor.id,
                    "source": "model",
                    "labels": labels_to_json(event.labels),
                    "threshold": event.threshold,
                    "decision": "auto_accepted",
                    "rule_version": event.rule_version,
                    "prediction_id": event.prediction_id,
                }
            )
    await repository.insert_annotations(tx, annotations)
    return opened, len(annotations)


async def on_event(deps: Deps, envelope: Envelope, _: Any) -> None:
    await on_fetch(deps, [envelope])


# ProjectCreated is annotation's own event: it is on PROJECTS but has no handler here.
CONSUMES = (PROJECTS, ITEMS, PREDICTIONS, REVIEWS)
HANDLERS: dict[str, Handler] = {
    event.DESCRIPTOR.full_name: on_event
    for event in (
        ItemIngested,
        PredictionCreated,
        PredictionFailed,
        AnnotationAutoAccepted,
        ReviewDecided,
        ItemCompleted,
        ReviewPolicyConfigured,
        GoldStandardSet,
    )
}
