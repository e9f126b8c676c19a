"""Event handlers of the annotation service.

Every handler goes through `on_fetch`, which records a whole fetch in one
transaction with one ordered bulk write to the tasks; single events are a
fetch of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labelmesh.annotation.adapters.repository import (
    AUTO_ACCEPTED,
    COMPLETED,
    OPEN,
    AnnotationRepository,
)
from labelmesh.annotation.metrics import AnnotationMetrics
from labelmesh.annotation.usecases import SERVICE
from labelmesh.core.bus import Handler
from labelmesh.core.envelopes import new_envelope, payload_of, service_actor
from labelmesh.core.labels import labels_to_json
from labelmesh.core.mongo import UnitOfWork
from labelmesh.core.topics import ITEMS, PREDICTIONS, REVIEWS
from labelmesh.v1.events_pb2 import (
    AnnotationAutoAccepted,
    Envelope,
    ItemIngested,
    PredictionCreated,
    PredictionFailed,
    PredictionSource,
    ReviewDecided,
    ReviewDecision,
    TaskCreated,
)


@dataclass(frozen=True)
class Deps:
    uow: UnitOfWork
    repository: AnnotationRepository
    metrics: AnnotationMetrics


async def on_fetch(deps: Deps, envelopes: list[Envelope]) -> None:
    repository = deps.repository
    tasks_opened: list[bool] = []
    model_annotations = 0
    async with deps.uow.begin() as tx:
        updates = []
        suggested: list[
            tuple[Envelope, PredictionCreated | PredictionFailed | AnnotationAutoAccepted]
        ] = []
        for envelope in await tx.claim_new(envelopes, SERVICE):
            event = payload_of(envelope)
            project_id, item_id = envelope.project_id, envelope.item_id
            if isinstance(event, ItemIngested):
                updates.append(repository.item_update(project_id, item_id, event))
            elif isinstance(event, PredictionCreated | PredictionFailed) and (
                event.source == PredictionSource.PREDICTION_SOURCE_ASSIST
            ):
                # Suggestions asked for on demand join the task, if it still waits.
                if isinstance(event, PredictionCreated) and event.labels:
                    updates.append(repository.assist_update(item_id, event.labels))
            elif isinstance(event, PredictionCreated) and not event.auto_accepted:
                # A confident prediction needs no task; AnnotationAutoAccepted records it.
                updates.append(
                    repository.suggestion_update(
                        project_id, item_id, event.labels, event.model, OPEN
                    )
                )
                suggested.append((envelope, event))
            elif isinstance(event, PredictionFailed):
                # The model could not read the item: a person labels it from scratch.
                updates.append(
                    repository.suggestion_update(
                        project_id, item_id, [], event.model, OPEN, event.reason
                    )
                )
                suggested.append((envelope, event))
            elif isinstance(event, AnnotationAutoAccepted):
                updates.append(
                    repository.suggestion_update(
                        project_id, item_id, event.labels, event.model, AUTO_ACCEPTED
                    )
                )
                suggested.append((envelope, event))
            elif isinstance(event, ReviewDecided) and event.task_id:
                # Approved work closes the task; rejected work reopens it for another pass.
                rejected = event.decision == ReviewDecision.REVIEW_DECISION_REJECTED
                status = OPEN if rejected else COMPLETED
                updates.append(repository.status_update(event.task_id, status, reopen=rejected))
        await repository.write_tasks(tx, updates)
        if not suggested:
            return
        task_ids = await repository.task_ids(tx, [e.item_id for e, _ in suggested])
        annotations = []
        for envelope, event in suggested:
            task_id = task_ids[envelope.item_id]
            if isinstance(event, PredictionCreated | PredictionFailed):
                labels = event.labels if isinstance(event, PredictionCreated) else []
                tx.emit(
                    new_envelope(
                        TaskCreated(
                            task_id=task_id, suggestion=labels, suggestion_model=event.model
                        ),
                        producer=SERVICE,
                        actor=service_actor(SERVICE),
                        project_id=envelope.project_id,
                        item_id=envelope.item_id,
                        trace_id=envelope.trace_id,
                    )
                )
                tasks_opened.append(bool(labels))
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
        model_annotations = len(annotations)
    for with_suggestion in tasks_opened:
        deps.metrics.tasks_created.labels(str(with_suggestion).lower()).inc()
    deps.metrics.annotations.labels("model").inc(model_annotations)


async def on_event(deps: Deps, envelope: Envelope, _: Any) -> None:
    await on_fetch(deps, [envelope])


CONSUMES = (ITEMS, PREDICTIONS, REVIEWS)
HANDLERS: dict[str, Handler] = {
    event.DESCRIPTOR.full_name: on_event
    for event in (
        ItemIngested,
        PredictionCreated,
        PredictionFailed,
        AnnotationAutoAccepted,
        ReviewDecided,
    )
}
