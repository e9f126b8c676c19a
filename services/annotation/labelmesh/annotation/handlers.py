"""The events annotation consumes, and what each does to tasks.

A fetch gathers its task changes in event order and writes them in bulk when
it finishes; a rejection writes what was gathered before it, then reopens its
task on its own, so that its outcome (reopened or stale) can be counted.
"""

from __future__ import annotations

from collections.abc import Sequence

from labelmesh.annotation.config import SERVICE
from labelmesh.annotation.imports import Imports, Taken
from labelmesh.annotation.metrics import AnnotationMetrics
from labelmesh.annotation.ports import AnnotationRepository, ProjectRepository
from labelmesh.annotation.records import (
    AnnotationDecision,
    AnnotationSource,
    ItemArrived,
    ItemClosed,
    ItemRemoved,
    MarkedGold,
    StoredAnnotation,
    SuggestionAttached,
    SuggestionsAdded,
    TaskChange,
    TaskStatus,
    WorkApproved,
)
from labelmesh.annotation.task_events import TaskEvents
from labelmesh.core.dispatch import EventTable, on
from labelmesh.core.envelopes import new_envelope, service_actor
from labelmesh.core.uow import Transaction
from labelmesh.v1.events_pb2 import (
    AdjudicationDecided,
    AdjudicationRequested,
    AnnotationAutoAccepted,
    AnnotatorFlagged,
    AutoAnnotationConfigured,
    Envelope,
    GoldStandardSet,
    IngestRejected,
    ItemCompleted,
    ItemDeleted,
    ItemFlagged,
    ItemIngested,
    ModelRef,
    PredictionCreated,
    PredictionFailed,
    PredictionSource,
    ProjectCreated,
    QualityScored,
    ReviewDecided,
    ReviewDecision,
    ReviewPolicyConfigured,
    ReviewRequested,
    TaskCreated,
)
from labelmesh.v1.geometry_pb2 import Label

# A task opened for people (with the event that opened it), or a model's
# annotation to store: both need the task's id, known once the changes are written.
Opened = tuple[Envelope, PredictionCreated | PredictionFailed]
AutoAccepted = tuple[Envelope, AnnotationAutoAccepted]


class AnnotationFetch:
    """One fetch's task changes, in event order, and what to announce after them."""

    def __init__(
        self,
        projects: ProjectRepository,
        tasks: TaskEvents,
        annotations: AnnotationRepository,
        metrics: AnnotationMetrics,
    ) -> None:
        self.projects = projects
        self.tasks = tasks
        self.annotations = annotations
        self.metrics = metrics
        self.pending: list[TaskChange] = []
        self.opened: list[Opened] = []
        self.auto_accepted: list[AutoAccepted] = []
        self.reworked: list[bool] = []
        self.with_suggestion: list[bool] = []
        self.imports = Imports(projects, tasks, annotations)
        self.arrivals: list[tuple[Envelope, ItemIngested]] = []
        self.imported = Taken()
        self._overlaps: dict[str, int] = {}

    async def overlap(self, tx: Transaction, project_id: str) -> int:
        """The overlap a task created now in the project takes (1 for an unknown project)."""
        if project_id not in self._overlaps:
            found = await self.projects.overlaps(tx, [project_id])
            self._overlaps[project_id] = found.get(project_id, 1)
        return self._overlaps[project_id]

    async def flush(self, tx: Transaction) -> None:
        await self.tasks.apply(tx, self.pending)
        self.pending = []

    # The steps, one per payload type.

    async def item_ingested(self, tx: Transaction, envelope: Envelope, event: ItemIngested) -> None:
        self.pending.append(
            ItemArrived(
                project_id=envelope.project_id,
                item_id=envelope.item_id,
                data_type=event.data_type,
                text=event.text,
                media_key=event.media_key,
                overlap=await self.overlap(tx, envelope.project_id),
            )
        )
        if event.imported_annotations:
            self.arrivals.append((envelope, event))

    async def gold_standard_set(
        self, tx: Transaction, envelope: Envelope, _: GoldStandardSet
    ) -> None:
        # The answer stays with review; the task only learns that it is gold.
        if envelope.item_id:
            overlap = await self.overlap(tx, envelope.project_id)
            self.pending.append(MarkedGold(envelope.project_id, envelope.item_id, overlap))

    async def prediction_created(
        self, tx: Transaction, envelope: Envelope, event: PredictionCreated
    ) -> None:
        if event.source == PredictionSource.PREDICTION_SOURCE_ASSIST:
            # Suggestions asked for on demand join the task, if it still waits.
            if event.labels:
                self.pending.append(SuggestionsAdded(envelope.item_id, list(event.labels)))
            return
        if event.auto_accepted:
            return  # a confident prediction needs no task; AnnotationAutoAccepted records it
        await self._suggest(tx, envelope, event.labels, event.model, TaskStatus.OPEN)
        self.opened.append((envelope, event))

    async def prediction_failed(
        self, tx: Transaction, envelope: Envelope, event: PredictionFailed
    ) -> None:
        if event.source == PredictionSource.PREDICTION_SOURCE_ASSIST:
            return
        # The model could not read the item: a person labels it from scratch.
        await self._suggest(tx, envelope, [], event.model, TaskStatus.OPEN, event.reason)
        self.opened.append((envelope, event))

    async def annotation_auto_accepted(
        self, tx: Transaction, envelope: Envelope, event: AnnotationAutoAccepted
    ) -> None:
        await self._suggest(tx, envelope, event.labels, event.model, TaskStatus.AUTO_ACCEPTED)
        self.auto_accepted.append((envelope, event))

    async def review_decided(self, tx: Transaction, _: Envelope, event: ReviewDecided) -> None:
        # Approved work closes the task; rejected work reopens its round, once.
        if not event.task_id:
            return
        if event.decision == ReviewDecision.REVIEW_DECISION_REJECTED:
            await self.flush(tx)
            self.reworked.append(await self.tasks.reopen(tx, event.task_id, event.round))
        elif event.decision == ReviewDecision.REVIEW_DECISION_APPROVED:
            self.pending.append(WorkApproved(event.task_id))

    async def item_completed(self, tx: Transaction, envelope: Envelope, _: ItemCompleted) -> None:
        if envelope.item_id:
            self.pending.append(ItemClosed(envelope.item_id))

    async def item_deleted(self, tx: Transaction, envelope: Envelope, _: ItemDeleted) -> None:
        # Its tasks nobody handed work in on are never handed out; annotations stay.
        if envelope.item_id:
            self.pending.append(ItemRemoved(envelope.project_id, envelope.item_id))

    async def review_policy_configured(
        self, tx: Transaction, envelope: Envelope, event: ReviewPolicyConfigured
    ) -> None:
        # Tasks created from now on take its overlap; existing tasks keep theirs.
        if await self.projects.update_review_policy(tx, envelope.project_id, event.policy):
            self._overlaps.pop(envelope.project_id, None)

    async def _suggest(
        self,
        tx: Transaction,
        envelope: Envelope,
        labels: Sequence[Label],
        model: ModelRef,
        status: TaskStatus,
        error: str = "",
    ) -> None:
        self.pending.append(
            SuggestionAttached(
                project_id=envelope.project_id,
                item_id=envelope.item_id,
                labels=list(labels),
                model=model,
                status=status,
                overlap=await self.overlap(tx, envelope.project_id),
                prediction_error=error,
            )
        )

    async def finish(self, tx: Transaction) -> None:
        """Write the gathered changes, take in imported annotations, announce opened
        tasks, store models' annotations."""
        await self.flush(tx)
        self.imported = await self.imports.take_in(tx, self.arrivals)
        if not (self.opened or self.auto_accepted):
            return
        item_ids = [e.item_id for e, _ in self.opened] + [e.item_id for e, _ in self.auto_accepted]
        found = await self.tasks.of_items(tx, item_ids)
        task_ids = {item_id: task.task_id for item_id, task in found.items()}
        for envelope, event in self.opened:
            if found[envelope.item_id].item_deleted:
                continue  # its item was deleted first: nobody is asked to label it
            labels = event.labels if isinstance(event, PredictionCreated) else []
            tx.emit(
                new_envelope(
                    TaskCreated(
                        task_id=task_ids[envelope.item_id],
                        suggestion=labels,
                        suggestion_model=event.model,
                    ),
                    producer=SERVICE,
                    actor=service_actor(SERVICE),
                    project_id=envelope.project_id,
                    item_id=envelope.item_id,
                    trace_id=envelope.trace_id,
                )
            )
            self.with_suggestion.append(bool(labels))
        await self.annotations.insert(
            tx,
            [
                StoredAnnotation(
                    annotation_id=event.annotation_id,
                    task_id=task_ids[envelope.item_id],
                    item_id=envelope.item_id,
                    project_id=envelope.project_id,
                    annotator=envelope.actor.id,
                    source=AnnotationSource.MODEL,
                    labels=tuple(event.labels),
                    decision=AnnotationDecision.AUTO_ACCEPTED,
                    threshold=event.threshold,
                    rule_version=event.rule_version,
                    prediction_id=event.prediction_id,
                )
                for envelope, event in self.auto_accepted
            ],
        )

    def committed(self) -> None:
        for with_suggestion in self.with_suggestion:
            self.metrics.tasks_created.labels(str(with_suggestion).lower()).inc()
        self.metrics.annotations.labels(AnnotationSource.MODEL).inc(len(self.auto_accepted))
        self.metrics.annotations.labels(AnnotationSource.IMPORTED).inc(self.imported.stored)
        for reason, count in self.imported.refused.items():
            self.metrics.imports_refused.labels(reason).inc(count)
        for reopened in self.reworked:
            self.metrics.rework_decisions.labels("reopened" if reopened else "ignored").inc()


TABLE = EventTable[AnnotationFetch](
    routes=[
        on(ItemIngested, AnnotationFetch.item_ingested),
        on(PredictionCreated, AnnotationFetch.prediction_created),
        on(PredictionFailed, AnnotationFetch.prediction_failed),
        on(AnnotationAutoAccepted, AnnotationFetch.annotation_auto_accepted),
        on(ReviewDecided, AnnotationFetch.review_decided),
        on(ItemCompleted, AnnotationFetch.item_completed),
        on(ItemDeleted, AnnotationFetch.item_deleted),
        on(ReviewPolicyConfigured, AnnotationFetch.review_policy_configured),
        on(GoldStandardSet, AnnotationFetch.gold_standard_set),
    ],
    ignored=[
        # Annotation creates projects itself; the rest is other services' business.
        ProjectCreated,
        AutoAnnotationConfigured,
        IngestRejected,
        ReviewRequested,
        AdjudicationRequested,
        AdjudicationDecided,
        QualityScored,
        AnnotatorFlagged,
        ItemFlagged,
    ],
)
