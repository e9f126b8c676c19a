"""The events the dataset service consumes: it keeps the projects it hears of,
with their policy and rules versions, and projects each item's events into
its accepted labels and their lineage, a fetch at a time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

from google.protobuf.message import Message

from labelmesh.core.dispatch import EventTable, on
from labelmesh.core.projects import ProjectDirectory
from labelmesh.core.uow import Transaction
from labelmesh.dataset.domain import projected
from labelmesh.dataset.metrics import DatasetMetrics
from labelmesh.dataset.ports import ItemProjection
from labelmesh.dataset.records import ProjectedItem
from labelmesh.v1.events_pb2 import (
    AdjudicationDecided,
    AdjudicationRequested,
    AnnotationAutoAccepted,
    AnnotationSubmitted,
    AnnotatorFlagged,
    AutoAnnotationConfigured,
    Envelope,
    GoldStandardSet,
    IngestRejected,
    ItemCompleted,
    ItemDeleted,
    ItemFlagged,
    ItemIngested,
    PredictionCreated,
    PredictionFailed,
    ProjectCreated,
    ProjectSpec,
    QualityScored,
    ReviewDecided,
    ReviewPolicyConfigured,
    ReviewRequested,
    SuggestionAccepted,
    SuggestionRejected,
    TaskCreated,
)


@dataclass
class DatasetFetch:
    """Gathers a fetch's item events and writes, in `finish`, each item once."""

    projects: ProjectDirectory
    items: ItemProjection
    metrics: DatasetMetrics
    events: list[tuple[Envelope, Message]] = field(default_factory=list)
    # Projects as this fetch left them: its later steps must see its earlier ones.
    specs: dict[str, ProjectSpec] = field(default_factory=dict)

    async def spec(self, project_id: str) -> ProjectSpec | None:
        if project_id not in self.specs:
            found = await self.projects.get(project_id)
            if found is None:
                return None
            self.specs[project_id] = found
        return self.specs[project_id]

    async def save(self, tx: Transaction, project: ProjectSpec) -> None:
        self.specs[project.project_id] = project
        await self.projects.save(tx, project)

    async def gather(self, tx: Transaction, envelope: Envelope, event: Message) -> None:
        if envelope.item_id:
            self.events.append((envelope, event))

    async def finish(self, tx: Transaction) -> None:
        if not self.events:
            return
        current = await self.items.get_many(tx, [e.item_id for e, _ in self.events])
        for envelope, event in self.events:
            current[envelope.item_id] = projected(current.get(envelope.item_id), envelope, event)
        # Items in the order of their first event's time: a fetch's events
        # come partition by partition, not in the order they happened.
        firsts: dict[str, tuple[int, int]] = {}
        for envelope, _ in self.events:
            at = envelope.occurred_at
            firsts[envelope.item_id] = min(
                firsts.get(envelope.item_id, (at.seconds, at.nanos)), (at.seconds, at.nanos)
            )
        heard = sorted(firsts, key=lambda item_id: (firsts[item_id], item_id))
        await self._place_new(tx, current, heard)
        await self.items.put_many(tx, [current[i] for i in sorted(heard)])

    async def _place_new(
        self, tx: Transaction, current: dict[str, ProjectedItem], heard: list[str]
    ) -> None:
        """Give the items heard of for the first time the next places of their
        projects' browsing order, in the order given: one counter update per project."""
        new: dict[str, list[str]] = {}
        for item_id in heard:
            if current[item_id].seq == 0:
                new.setdefault(current[item_id].project_id, []).append(item_id)
        for project_id, item_ids in new.items():
            first = await self.items.place(tx, project_id, len(item_ids))
            for offset, item_id in enumerate(item_ids):
                current[item_id] = replace(current[item_id], seq=first + offset)

    def committed(self) -> None:
        self.metrics.projected.inc(len(self.events))


async def remember_created(
    fetch: DatasetFetch, tx: Transaction, envelope: Envelope, event: ProjectCreated
) -> None:
    await fetch.save(tx, event.project)


async def remember_policy(
    fetch: DatasetFetch, tx: Transaction, envelope: Envelope, event: ReviewPolicyConfigured
) -> None:
    """The policy version a version records; an older one arriving late changes nothing."""
    project = await fetch.spec(envelope.project_id)
    if project is not None and event.policy.version >= project.review_policy.version:
        project.review_policy.CopyFrom(event.policy)
        await fetch.save(tx, project)


async def remember_rules(
    fetch: DatasetFetch, tx: Transaction, envelope: Envelope, event: AutoAnnotationConfigured
) -> None:
    """The rules version a version records; an older one arriving late changes nothing."""
    project = await fetch.spec(envelope.project_id)
    if project is not None and event.rules.version >= project.auto_annotation.version:
        project.auto_annotation.CopyFrom(event.rules)
        await fetch.save(tx, project)


PROJECTED = (
    ItemIngested,
    ItemDeleted,
    AnnotationSubmitted,
    AnnotationAutoAccepted,
    ReviewDecided,
    AdjudicationDecided,
    ItemCompleted,
    ItemFlagged,
)

TABLE = EventTable[DatasetFetch](
    routes=[
        on(ProjectCreated, remember_created),
        on(ReviewPolicyConfigured, remember_policy),
        on(AutoAnnotationConfigured, remember_rules),
        *(on(payload, DatasetFetch.gather) for payload in PROJECTED),
    ],
    ignored=[
        IngestRejected,
        PredictionCreated,
        PredictionFailed,
        SuggestionAccepted,
        SuggestionRejected,
        TaskCreated,
        GoldStandardSet,
        ReviewRequested,
        AdjudicationRequested,
        QualityScored,
        AnnotatorFlagged,
    ],
)


def fetch_starter(
    projects: ProjectDirectory, items: ItemProjection, metrics: DatasetMetrics
) -> Callable[[Sequence[Envelope]], Awaitable[DatasetFetch]]:
    async def start(_: Sequence[Envelope]) -> DatasetFetch:
        return DatasetFetch(projects, items, metrics)

    return start
