"""In-memory twins of the annotation service's stores, and the helpers its
tests share on the twins and on the running service.

They keep records in `MemoryState` tables, so a failed transaction of
`InMemoryUnitOfWork` rolls them back, and follow the MongoDB adapters'
rules: one task per item, a taken id is a Conflict. The rules of the queue
themselves live in the service (`task_changes`, `claiming`), shared by both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from google.protobuf.message import Message
from prometheus_client import CollectorRegistry

from labelmesh.annotation.app import dispatcher
from labelmesh.annotation.domain import NewProject
from labelmesh.annotation.handlers import AnnotationFetch
from labelmesh.annotation.metrics import AnnotationMetrics
from labelmesh.annotation.ports import AnnotationStores
from labelmesh.annotation.queue import STATUSES, TaskView
from labelmesh.annotation.records import (
    GOLD,
    AnnotationDecision,
    AnnotationSource,
    Changed,
    Lane,
    LaneState,
    ListedProject,
    Progress,
    StoredAnnotation,
    Task,
)
from labelmesh.annotation.secured import SecuredAnnotation
from labelmesh.annotation.task_changes import copies
from labelmesh.annotation.usecases import Annotation
from labelmesh.core import review_policy
from labelmesh.core.access import DEFAULT_ORGANIZATION, ProjectGate, directory_organizations
from labelmesh.core.dispatch import Dispatcher
from labelmesh.core.envelopes import model_actor, new_envelope, user_actor
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
PROJECT_PLACES = "annotation.project_places"
TASKS = "annotation.tasks"
ANNOTATIONS = "annotation.annotations"
PROGRESS = "annotation.annotator_progress"
LANES = "annotation.queue_lanes"


class InMemoryProjectRepository:
    def __init__(self, state: MemoryState) -> None:
        self.projects: dict[str, bytes] = state.table(PROJECTS)
        # Each project's organisation and position in its list.
        self.places: dict[str, tuple[str, int]] = state.table(PROJECT_PLACES)

    async def insert(self, tx: Transaction, project: ProjectSpec) -> None:
        if project.project_id in self.projects:
            raise Conflict(f"project {project.project_id!r} already exists")
        organization = project.organization_id or DEFAULT_ORGANIZATION
        position = await self.listed(organization)
        self.projects[project.project_id] = project.SerializeToString()
        self.places[project.project_id] = (organization, position)

    async def get(self, project_id: str) -> ProjectSpec | None:
        stored = self.projects.get(project_id)
        return ProjectSpec.FromString(stored) if stored is not None else None

    async def listed(self, organization_id: str) -> int:
        return sum(1 for organization, _ in self.places.values() if organization == organization_id)

    async def window(self, organization_id: str, start: int, stop: int) -> list[ListedProject]:
        found = [
            ListedProject(position, ProjectSpec.FromString(self.projects[project_id]))
            for project_id, (organization, position) in self.places.items()
            if organization == organization_id and start <= position < stop
        ]
        return sorted(found, key=lambda p: p.position, reverse=True)

    async def by_ids(self, project_ids: Iterable[str]) -> list[ListedProject]:
        return [
            ListedProject(self.places[i][1], ProjectSpec.FromString(self.projects[i]))
            for i in set(project_ids)
            if i in self.projects
        ]

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


class InMemoryTaskStore:
    def __init__(self, state: MemoryState) -> None:
        self.tasks: dict[str, Task] = state.table(TASKS)

    async def get(self, task_id: str) -> Task | None:
        return self.tasks.get(task_id)

    async def by_ids(self, tx: Transaction, task_ids: Sequence[str]) -> dict[str, Task]:
        return {i: self.tasks[i] for i in task_ids if i in self.tasks}

    async def by_items(self, tx: Transaction, item_ids: Sequence[str]) -> dict[str, Task]:
        wanted = set(item_ids)
        return {t.item_id: t for t in self.tasks.values() if t.item_id in wanted}

    async def held_by(self, annotators: Sequence[str], tx: Transaction | None = None) -> list[Task]:
        return [t for t in self.tasks.values() if set(t.assigned) & set(annotators)]

    async def window(
        self, tx: Transaction, project_id: str, lane: Lane, start: int, stop: int
    ) -> list[Task]:
        found = [
            t
            for t in self.tasks.values()
            if t.project_id == project_id and t.lane == lane and start <= t.position < stop
        ]
        return sorted(found, key=lambda t: t.position)

    async def save(self, tx: Transaction, changes: Sequence[Changed]) -> None:
        for change in changes:
            after = change.after
            if change.inserted and after.task_id in self.tasks:
                raise Conflict(f"task {after.task_id!r} exists already")
            other = next(
                (
                    t
                    for t in self.tasks.values()
                    if t.item_id == after.item_id and t.task_id != after.task_id
                ),
                None,
            )
            if other is not None:
                raise Conflict(f"item {after.item_id!r} already has task {other.task_id!r}")
            self.tasks[after.task_id] = replace(after, suggestion=copies(after.suggestion))

    async def stats(self, project_id: str) -> dict[str, int]:
        counts = {str(status): 0 for status in (*STATUSES, GOLD)}
        for task in self.tasks.values():
            if task.project_id == project_id:
                counts[GOLD if task.gold else str(task.status)] += 1
        return counts


class InMemoryQueueStore:
    def __init__(self, state: MemoryState) -> None:
        self.lane_states: dict[tuple[str, Lane], LaneState] = state.table(LANES)
        self.progress_of: dict[tuple[str, str], Progress] = state.table(PROGRESS)

    async def lanes(self, tx: Transaction, project_id: str) -> dict[Lane, LaneState]:
        return {lane: self.lane_states.get((project_id, lane), LaneState()) for lane in Lane}

    async def reserve(self, tx: Transaction, project_id: str, lane: Lane, count: int) -> int:
        state = self.lane_states.get((project_id, lane), LaneState())
        self.lane_states[(project_id, lane)] = replace(state, next=state.next + count)
        return state.next

    async def advance(self, tx: Transaction, project_id: str, heads: dict[Lane, int]) -> None:
        for lane, head in heads.items():
            state = self.lane_states.get((project_id, lane), LaneState())
            self.lane_states[(project_id, lane)] = replace(state, head=max(state.head, head))

    async def progress(
        self, tx: Transaction, project_id: str, annotators: Sequence[str]
    ) -> dict[str, Progress]:
        return {a: self.progress_of.get((project_id, a), Progress()) for a in annotators}

    async def save_progress(
        self, tx: Transaction, project_id: str, progress: dict[str, Progress]
    ) -> None:
        for annotator, moved in progress.items():
            self.progress_of[(project_id, annotator)] = moved


class InMemoryAnnotationRepository:
    def __init__(self, state: MemoryState) -> None:
        self.annotations: dict[str, StoredAnnotation] = state.table(ANNOTATIONS)

    async def insert(self, tx: Transaction, annotations: Sequence[StoredAnnotation]) -> None:
        now = datetime.now(UTC)
        for annotation in annotations:
            if annotation.annotation_id in self.annotations:
                raise Conflict("an annotation with this id already exists")
            stored = replace(annotation, labels=copies(annotation.labels), created_at=now)
            self.annotations[annotation.annotation_id] = stored

    async def of_item(self, item_id: str) -> list[StoredAnnotation]:
        found = [a for a in self.annotations.values() if a.item_id == item_id]
        return sorted(found, key=lambda a: a.created_at or datetime.now(UTC))

    async def known(self, tx: Transaction, annotation_ids: Sequence[str]) -> set[str]:
        return {i for i in annotation_ids if i in self.annotations}


# The service wired on the twins, for use-case and event-step tests.

MODEL = ModelRef(id="m", version="1")
CLASSES = ["sports", "politics"]


@dataclass
class AnnotationTwins:
    """Use cases and dispatcher over one in-memory state."""

    uow: InMemoryUnitOfWork
    registry: CollectorRegistry
    annotation: Annotation
    stores: AnnotationStores
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

    @property
    def secured(self) -> SecuredAnnotation:
        """The use cases as the APIs call them, behind authorisation."""
        gate = ProjectGate(directory_organizations(self.stores.projects.get))
        return SecuredAnnotation(self.annotation, gate)

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
        user_actor("owner"),
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
    stores = AnnotationStores(
        InMemoryProjectRepository(state),
        InMemoryTaskStore(state),
        InMemoryQueueStore(state),
        InMemoryAnnotationRepository(state),
        uow,
    )
    annotation = Annotation(stores, metrics)
    return AnnotationTwins(uow, registry, annotation, stores, dispatcher(stores, metrics))


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
