"""In-memory twins of the annotation service's repositories and task queue,
and the helpers its tests share on the twins and on the running service.

They keep records in `MemoryState` tables, so a failed transaction of
`InMemoryUnitOfWork` rolls them back, and follow the MongoDB adapters'
rules: one task per item, oldest task first, a stale rejection reopens
nothing, a taken id is a Conflict.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from google.protobuf.message import Message
from prometheus_client import CollectorRegistry

from labelmesh.annotation.app import dispatcher
from labelmesh.annotation.domain import NewProject
from labelmesh.annotation.handlers import AnnotationFetch
from labelmesh.annotation.metrics import AnnotationMetrics
from labelmesh.annotation.ports import AnnotationStores
from labelmesh.annotation.queue import (
    IN_PROGRESS,
    STATUSES,
    TaskView,
    status_from_slots,
    works_on,
)
from labelmesh.annotation.records import (
    GOLD,
    AnnotationDecision,
    AnnotationSource,
    Dismissal,
    ItemArrived,
    ItemClosed,
    MarkedGold,
    Progress,
    StoredAnnotation,
    SuggestionAttached,
    SuggestionsAdded,
    Taken,
    Task,
    TaskChange,
    TaskStatus,
    WorkApproved,
)
from labelmesh.annotation.usecases import Annotation
from labelmesh.core import review_policy
from labelmesh.core.dispatch import Dispatcher
from labelmesh.core.envelopes import model_actor, new_envelope
from labelmesh.core.errors import Conflict
from labelmesh.core.mongo import PROCESSED
from labelmesh.core.runner import ServiceDefinition
from labelmesh.core.uow import Transaction
from labelmesh.testing.memory import InMemoryUnitOfWork, MemoryState
from labelmesh.testing.services import eventually
from labelmesh.v1.events_pb2 import (
    DataType,
    Envelope,
    ItemIngested,
    ModelRef,
    PredictionCreated,
    ProjectSpec,
    ReviewPolicy,
)
from labelmesh.v1.geometry_pb2 import Classification, Label

PROJECTS = "annotation.projects"
TASKS = "annotation.tasks"
ANNOTATIONS = "annotation.annotations"
PROGRESS = "annotation.annotator_progress"
# Statuses assist suggestions may still join.
WAITING = (TaskStatus.PENDING, TaskStatus.OPEN, TaskStatus.ASSIGNED)


def _now() -> datetime:
    return datetime.now(UTC)


def _copies(labels: Iterable[Label]) -> tuple[Label, ...]:
    copied = []
    for label in labels:
        copy = Label()
        copy.CopyFrom(label)
        copied.append(copy)
    return tuple(copied)


class InMemoryProjectRepository:
    def __init__(self, state: MemoryState) -> None:
        self.projects: dict[str, bytes] = state.table(PROJECTS)

    async def insert(self, tx: Transaction, project: ProjectSpec) -> None:
        if project.project_id in self.projects:
            raise Conflict(f"project {project.project_id!r} already exists")
        self.projects[project.project_id] = project.SerializeToString()

    async def get(self, project_id: str) -> ProjectSpec | None:
        stored = self.projects.get(project_id)
        return ProjectSpec.FromString(stored) if stored is not None else None

    async def overlaps(self, tx: Transaction, project_ids: Iterable[str]) -> dict[str, int]:
        found = {}
        for project_id in set(project_ids):
            project = await self.get(project_id)
            if project is not None:
                found[project_id] = review_policy.overlap(project.review_policy)
        return found

    async def update_review_policy(
        self, tx: Transaction, project_id: str, policy: ReviewPolicy
    ) -> bool:
        project = await self.get(project_id)
        if project is None or policy.version <= project.review_policy.version:
            return False
        project.review_policy.CopyFrom(policy)
        self.projects[project_id] = project.SerializeToString()
        return True


class _Tasks:
    """The tasks table, shared by the task repository and the queue twins."""

    def __init__(self, state: MemoryState) -> None:
        self.tasks: dict[str, Task] = state.table(TASKS)

    def by_item(self, item_id: str) -> Task | None:
        return next((t for t in self.tasks.values() if t.item_id == item_id), None)

    def put(self, task: Task) -> Task:
        self.tasks[task.task_id] = task
        return task

    def oldest(self, matches: Callable[[Task], bool]) -> Task | None:
        found = [t for t in self.tasks.values() if matches(t)]
        return min(found, key=lambda t: t.created_at) if found else None


def _task_at(
    tasks: _Tasks,
    change: ItemArrived | SuggestionAttached | MarkedGold,
    status: TaskStatus,
    *,
    gold: bool = False,
) -> Task:
    """The task of the change's item, or a new one whose item has not arrived yet."""
    return tasks.by_item(change.item_id) or Task(
        task_id=str(uuid.uuid4()),
        item_id=change.item_id,
        project_id=change.project_id,
        status=status,
        created_at=_now(),
        gold=gold,
        item_ready=False,
        overlap=change.overlap,
        open_slots=change.overlap,
    )


class InMemoryTaskRepository:
    def __init__(self, state: MemoryState) -> None:
        self.table = _Tasks(state)

    async def apply(self, tx: Transaction, changes: Sequence[TaskChange]) -> None:
        for change in changes:
            self._apply(change)

    def _apply(self, change: TaskChange) -> None:
        table = self.table
        task: Task | None
        match change:
            case ItemArrived():
                task = _task_at(table, change, TaskStatus.PENDING)
                table.put(
                    replace(
                        task,
                        project_id=change.project_id,
                        data_type=change.data_type,
                        text=change.text,
                        media_key=change.media_key,
                        item_ready=True,
                    )
                )
            case SuggestionAttached():
                task = _task_at(table, change, change.status)
                model = ModelRef(id=change.model.id, version=change.model.version)
                table.put(
                    replace(
                        task,
                        project_id=change.project_id,
                        status=change.status,
                        suggestion=_copies(change.labels),
                        suggestion_model=model,
                        prediction_error=change.prediction_error,
                    )
                )
            case MarkedGold():
                task = _task_at(table, change, TaskStatus.PENDING, gold=True)
                table.put(replace(task, project_id=change.project_id, gold=True))
            case SuggestionsAdded():
                task = table.by_item(change.item_id)
                if task is not None and task.status in WAITING:
                    table.put(replace(task, suggestion=task.suggestion + _copies(change.labels)))
            case WorkApproved():
                task = table.tasks.get(change.task_id)
                if task is not None and not task.gold:
                    table.put(replace(task, status=TaskStatus.COMPLETED))
            case ItemClosed():
                task = table.by_item(change.item_id)
                closable = (*IN_PROGRESS, TaskStatus.SUBMITTED)
                if task is not None and not task.gold and task.status in closable:
                    table.put(replace(task, status=TaskStatus.COMPLETED))

    async def reopen(self, tx: Transaction, task_id: str, round_: int) -> bool:
        task = self.table.tasks.get(task_id)
        if task is None or task.gold or task.round != round_:
            return False
        self.table.put(
            replace(
                task,
                status=TaskStatus.OPEN,
                round=task.round + 1,
                open_slots=task.overlap,
                takers=(),
                assigned=(),
                submitted=(),
                assigned_at=(),
                rework_count=task.rework_count + 1,
            )
        )
        return True

    async def task_ids(self, tx: Transaction, item_ids: Sequence[str]) -> dict[str, str]:
        wanted = set(item_ids)
        return {t.item_id: t.task_id for t in self.table.tasks.values() if t.item_id in wanted}

    async def get(self, task_id: str) -> Task | None:
        return self.table.tasks.get(task_id)


def _taken(task: Task, annotator: str, *, slot: bool) -> Task:
    taken = replace(
        task,
        takers=(*task.takers, annotator),
        assigned=(*task.assigned, annotator),
        assigned_at=(*task.assigned_at, Taken(annotator, _now())),
        open_slots=task.open_slots - 1 if slot else task.open_slots,
    )
    return replace(taken, status=status_from_slots(taken))


class InMemoryTaskQueue:
    def __init__(self, state: MemoryState) -> None:
        self.table = _Tasks(state)
        self.progress: dict[tuple[str, str], Progress] = state.table(PROGRESS)

    async def current_task(self, project_id: str, annotator: str) -> Task | None:
        return next(
            (
                t
                for t in self.table.tasks.values()
                if t.project_id == project_id and works_on(t, annotator)
            ),
            None,
        )

    async def claim_regular(self, project_id: str, annotator: str) -> Task | None:
        task = self.table.oldest(
            lambda t: (
                t.project_id == project_id
                and t.status == TaskStatus.OPEN
                and t.item_ready
                and t.open_slots > 0
                and annotator not in t.takers
                and not t.gold
            )
        )
        return self.table.put(_taken(task, annotator, slot=True)) if task else None

    async def claim_gold(self, project_id: str, annotator: str) -> Task | None:
        task = self.table.oldest(
            lambda t: (
                t.project_id == project_id
                and t.gold
                and t.item_ready
                and t.status != TaskStatus.PENDING
                and annotator not in t.takers
            )
        )
        return self.table.put(_taken(task, annotator, slot=False)) if task else None

    async def progress_of(self, project_id: str, annotator: str) -> Progress:
        return self.progress.get((project_id, annotator), Progress())

    async def count_taken(self, project_id: str, annotator: str, *, gold: bool) -> None:
        before = await self.progress_of(project_id, annotator)
        self.progress[(project_id, annotator)] = Progress(
            before.tasks_taken + 1, before.gold_taken + int(gold)
        )

    async def hand_in(
        self, tx: Transaction, task_id: str, annotator: str, *, direct: bool
    ) -> Task | None:
        before = self.table.tasks.get(task_id)
        if before is None:
            return None
        if direct:
            if not (
                before.status == TaskStatus.OPEN
                and before.overlap == 1
                and before.open_slots > 0
                and not before.assigned
                and not before.gold
            ):
                return None
            moved = replace(
                before,
                submitted=(*before.submitted, annotator),
                open_slots=before.open_slots - 1,
                takers=(*before.takers, annotator),
            )
        else:
            if not works_on(before, annotator):
                return None
            moved = replace(
                before,
                submitted=(*before.submitted, annotator),
                assigned=tuple(a for a in before.assigned if a != annotator),
            )
        self.table.put(replace(moved, status=status_from_slots(moved)))
        return before

    async def dismiss_suggestion(
        self, tx: Transaction, task_id: str, annotator: str, suggestion_id: str
    ) -> bool:
        task = self.table.tasks.get(task_id)
        if task is None:
            return False
        untaken = (
            task.status == TaskStatus.OPEN
            and task.overlap == 1
            and not task.assigned
            and not task.gold
        )
        if annotator not in task.assigned and not untaken:
            return False
        self.table.put(
            replace(task, dismissed=(*task.dismissed, Dismissal(annotator, suggestion_id)))
        )
        return True

    async def stats(self, project_id: str) -> dict[str, int]:
        counts = {str(status): 0 for status in (*STATUSES, GOLD)}
        for task in self.table.tasks.values():
            if task.project_id == project_id:
                counts[GOLD if task.gold else str(task.status)] += 1
        return counts


class InMemoryAnnotationRepository:
    def __init__(self, state: MemoryState) -> None:
        self.annotations: dict[str, StoredAnnotation] = state.table(ANNOTATIONS)

    async def insert(self, tx: Transaction, annotations: Sequence[StoredAnnotation]) -> None:
        now = _now()
        for annotation in annotations:
            if annotation.annotation_id in self.annotations:
                raise Conflict("an annotation with this id already exists")
            stored = replace(annotation, labels=_copies(annotation.labels), created_at=now)
            self.annotations[annotation.annotation_id] = stored

    async def of_item(self, item_id: str) -> list[StoredAnnotation]:
        found = [a for a in self.annotations.values() if a.item_id == item_id]
        return sorted(found, key=lambda a: a.created_at or _now())


# The service wired on the twins, for use-case and event-step tests.

MODEL = ModelRef(id="m", version="1")
CLASSES = ["sports", "politics"]


@dataclass
class AnnotationTwins:
    """Use cases and dispatcher over one in-memory state."""

    uow: InMemoryUnitOfWork
    registry: CollectorRegistry
    annotation: Annotation
    tasks: InMemoryTaskRepository
    events: Dispatcher[AnnotationFetch]

    async def project(self, overlap: int = 0, gold_ratio: float = 0.0) -> str:
        return await queue_project(self.annotation, overlap, gold_ratio)

    async def publish(self, project_id: str, item_id: str, *payloads: Message) -> list[Envelope]:
        envelopes = [envelope(project_id, item_id, p) for p in payloads]
        await self.events.handle(envelopes)
        return envelopes

    async def add_items(self, project_id: str, *item_ids: str) -> None:
        """Text items with a suggestion each, waiting in the queue."""
        for item_id in item_ids:
            await self.publish(
                project_id,
                item_id,
                ItemIngested(data_type=DataType.DATA_TYPE_TEXT, text=f"text of {item_id}"),
                suggestion(item_id),
            )

    def counter(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    @staticmethod
    def suggestion(item_id: str, *labels: Label) -> PredictionCreated:
        return suggestion(item_id, *labels)

    @staticmethod
    def envelope(project_id: str, item_id: str, payload: Message) -> Envelope:
        return envelope(project_id, item_id, payload)


async def queue_project(annotation: Annotation, overlap: int = 0, gold_ratio: float = 0.0) -> str:
    """A text project with the given review policy fields; returns its id."""
    policy = ReviewPolicy(overlap=overlap, gold_ratio=gold_ratio)
    project = await annotation.create_project(
        NewProject("queue", DataType.DATA_TYPE_TEXT, CLASSES, 0.9, review_policy=policy),
        "owner",
    )
    return project.project_id


def suggestion(item_id: str, *labels: Label) -> PredictionCreated:
    return PredictionCreated(
        prediction_id=f"p-{item_id}",
        model=MODEL,
        labels=labels or [Label(classification=Classification(label="sports"), confidence=0.6)],
        threshold=0.9,
    )


def envelope(project_id: str, item_id: str, payload: Message) -> Envelope:
    return new_envelope(
        payload,
        producer="test",
        actor=model_actor(MODEL.id, MODEL.version),
        project_id=project_id,
        item_id=item_id,
    )


def annotation_on_twins(state: MemoryState | None = None) -> AnnotationTwins:
    """The annotation use cases and dispatcher over the twins of one state."""
    state = state or MemoryState()
    uow = InMemoryUnitOfWork(state)
    registry = CollectorRegistry()
    metrics = AnnotationMetrics(registry)
    projects = InMemoryProjectRepository(state)
    tasks = InMemoryTaskRepository(state)
    annotations = InMemoryAnnotationRepository(state)
    annotation = Annotation(
        AnnotationStores(projects, tasks, InMemoryTaskQueue(state), annotations, uow), metrics
    )
    events = dispatcher(uow, projects, tasks, annotations, metrics)
    return AnnotationTwins(uow, registry, annotation, tasks, events)


def model_annotation(
    annotation_id: str,
    labels: Sequence[Label],
    *,
    rule_version: int,
    threshold: float | None = None,
    prediction_id: str = "",
    created_at: datetime | None = None,
) -> StoredAnnotation:
    """Model m's auto-accepted annotation of item i1 (task t1, project p1)."""
    return StoredAnnotation(
        annotation_id=annotation_id,
        task_id="t1",
        item_id="i1",
        project_id="p1",
        annotator="m",
        source=AnnotationSource.MODEL,
        labels=tuple(labels),
        decision=AnnotationDecision.AUTO_ACCEPTED,
        threshold=threshold,
        rule_version=rule_version,
        prediction_id=prediction_id,
        created_at=created_at,
    )


# The service running against the real broker and database, for integration tests.


@dataclass
class LiveAnnotation:
    """A running annotation service, with the helpers `AnnotationTwins` has."""

    service: ServiceDefinition
    annotation: Annotation

    async def project(self, overlap: int = 0, gold_ratio: float = 0.0) -> str:
        return await queue_project(self.annotation, overlap, gold_ratio)

    async def publish_and_wait(self, envelopes: Sequence[Envelope]) -> None:
        """Publish events and wait until the service has handled every one."""
        await self.service.platform.publisher.publish(envelopes)
        ids = {e.event_id for e in envelopes}
        processed = self.service.platform.db[PROCESSED]

        async def handled() -> bool:
            return await processed.count_documents({"_id": {"$in": list(ids)}}) == len(ids)

        await eventually(handled, what=f"the service to handle {len(ids)} events")

    async def publish(
        self, project_id: str, item_id: str, payloads: Sequence[Message]
    ) -> list[Envelope]:
        """Publish events about one item; returns once the service has handled them."""
        envelopes = [envelope(project_id, item_id, payload) for payload in payloads]
        await self.publish_and_wait(envelopes)
        return envelopes

    async def add_items(self, project_id: str, item_ids: Sequence[str]) -> None:
        """Text items with a suggestion each, waiting in the queue once this returns."""
        ingested = [
            envelope(
                project_id,
                item_id,
                ItemIngested(data_type=DataType.DATA_TYPE_TEXT, text=f"text of {item_id}"),
            )
            for item_id in item_ids
        ]
        predicted = [envelope(project_id, item_id, suggestion(item_id)) for item_id in item_ids]
        await self.publish_and_wait([*ingested, *predicted])

    async def taken(self, annotator: str = "ana", *, overlap: int = 0) -> tuple[str, TaskView]:
        """A project with the one item item-1, and its task as the annotator took it."""
        project_id = await self.project(overlap=overlap)
        await self.add_items(project_id, ["item-1"])
        task = await self.annotation.next_task(project_id, annotator)
        assert task is not None
        return project_id, task

    async def submitted(
        self, labels: Sequence[Label], annotator: str = "ana"
    ) -> tuple[str, TaskView, str]:
        """`taken`, then submitted with the labels: the project id, task and annotation id."""
        project_id, task = await self.taken(annotator)
        annotation_id = await self.annotation.submit(task.task_id, annotator, labels)
        return project_id, task, annotation_id

    def counter(self, name: str, **labels: str) -> float:
        return self.service.platform.registry.get_sample_value(name, labels) or 0.0
