"""In-memory twins of the dataset service's projection and version ports, the
service wired on them, and builders of the events it hears."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from google.protobuf.message import Message
from prometheus_client import CollectorRegistry

from labelmesh.core.dispatch import Dispatcher
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.core.uow import Transaction
from labelmesh.dataset import handlers
from labelmesh.dataset.browsing import (
    TEXT_CHARS,
    annotators_of,
    classes_of,
    facets_of,
    status_of,
)
from labelmesh.dataset.domain import order_key
from labelmesh.dataset.handlers import DatasetFetch
from labelmesh.dataset.metrics import DatasetMetrics
from labelmesh.dataset.records import ItemSummary, ManifestChunk, ProjectedItem, StoredVersion
from labelmesh.dataset.usecases import Datasets, VersionWork
from labelmesh.testing.memory import InMemoryProjectDirectory, InMemoryUnitOfWork, MemoryState
from labelmesh.v1.dataset_service_pb2 import ExportJob, ExportState
from labelmesh.v1.events_pb2 import (
    AnnotationSubmitted,
    CompletionSource,
    DatasetFilter,
    DatasetVersion,
    DataType,
    Envelope,
    ItemCompleted,
    ItemIngested,
    ProjectCreated,
    ProjectSpec,
    Rebalance,
    ReviewDecided,
    ReviewDecision,
    SplitSpec,
)
from labelmesh.v1.geometry_pb2 import BoundingBox, Classification, Label, LabelSource


class InMemoryItemProjection:
    def __init__(self, state: MemoryState) -> None:
        self.items: dict[str, ProjectedItem] = state.table("dataset.items")
        self.places: dict[str, int] = state.table("dataset.item_places")

    async def get_many(self, tx: Transaction, item_ids: Sequence[str]) -> dict[str, ProjectedItem]:
        return {i: self.items[i] for i in item_ids if i in self.items}

    async def put_many(self, tx: Transaction, items: Sequence[ProjectedItem]) -> None:
        self.items.update({i.item_id: i for i in items})

    async def accepted(self, project_id: str, batch: int) -> AsyncIterator[list[ProjectedItem]]:
        found = sorted(
            (
                i
                for i in self.items.values()
                if i.project_id == project_id and i.acceptance and i.deleted_at is None
            ),
            key=lambda i: order_key(i.item_id),
        )
        for first in range(0, len(found), batch):
            yield found[first : first + batch]

    async def place(self, tx: Transaction, project_id: str, count: int) -> int:
        last = self.places.get(project_id, 0) + count
        self.places[project_id] = last
        return last - count + 1

    async def extent(self, project_id: str) -> int:
        return self.places.get(project_id, 0) + 1

    async def browse(self, project_id: str, facet: str, first: int, stop: int) -> list[ItemSummary]:
        summaries = (
            _summary(i)
            for i in self.items.values()
            if i.project_id == project_id and first <= i.seq < stop
        )
        return [s for s in summaries if facet in s.facets]


def _summary(item: ProjectedItem) -> ItemSummary:
    status, classes, annotators = status_of(item), classes_of(item), annotators_of(item)
    return ItemSummary(
        item_id=item.item_id,
        seq=item.seq,
        data_type=item.data_type,
        filename=item.filename,
        text=item.text[:TEXT_CHARS],
        metadata=dict(item.metadata),
        source=item.source,
        source_uri=item.source_uri,
        status=status,
        classes=classes,
        annotators=annotators,
        created_at=item.created_at,
        width=item.width,
        height=item.height,
        facets=frozenset(facets_of(item, status, classes, annotators)),
    )


class InMemoryVersionRepository:
    def __init__(self, state: MemoryState) -> None:
        self.versions: dict[str, StoredVersion] = state.table("dataset.versions")
        # Chunks are written outside transactions: a rollback keeps them, as
        # MongoDB does, so they are not a table of the state.
        self.chunks: dict[tuple[str, int], ManifestChunk] = {}

    async def put_chunks(self, chunks: Sequence[ManifestChunk]) -> None:
        self.chunks.update({(c.manifest_id, c.index): c for c in chunks})

    async def drop_manifest(self, manifest_id: str) -> None:
        for key in [k for k in self.chunks if k[0] == manifest_id]:
            del self.chunks[key]

    async def add(self, tx: Transaction, version: StoredVersion) -> bool:
        if version.version.version_id in self.versions:
            return False
        self.versions[version.version.version_id] = version
        return True

    async def get(self, version_id: str) -> StoredVersion | None:
        return self.versions.get(version_id)

    async def newest(
        self, project_id: str, limit: int, before: tuple[datetime, str] | None = None
    ) -> list[StoredVersion]:
        found = sorted(
            (v for v in self.versions.values() if v.version.project_id == project_id),
            key=_key,
            reverse=True,
        )
        return [v for v in found if before is None or _key(v) < before][:limit]

    async def chunk(self, manifest_id: str, index: int) -> ManifestChunk | None:
        return self.chunks.get((manifest_id, index))


def _key(stored: StoredVersion) -> tuple[datetime, str]:
    return stored.version.created_at.ToDatetime(UTC), stored.version.version_id


T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CLASSES = ("cat", "dog", "bird")


def box(name: str, x: float = 1.0, confidence: float = 0.0, model: str = "") -> Label:
    label = Label(bounding_box=BoundingBox(label=name, x=x, y=2, width=3, height=4))
    label.confidence = confidence
    if model:
        label.source.CopyFrom(LabelSource(model_id=model, model_version="1", score=confidence))
    return label


def cls(name: str) -> Label:
    return Label(classification=Classification(label=name))


def event(payload: Message, item: str = "", at: datetime = T0, project: str = "p1") -> Envelope:
    envelope = new_envelope(
        payload, producer="test", actor=user_actor("someone"), project_id=project, item_id=item
    )
    envelope.occurred_at.FromDatetime(at)
    return envelope


@dataclass
class DatasetWorld:
    state: MemoryState = field(default_factory=MemoryState)

    def __post_init__(self) -> None:
        self.uow = InMemoryUnitOfWork(self.state)
        self.projects = InMemoryProjectDirectory(self.state)
        self.items = InMemoryItemProjection(self.state)
        self.versions = InMemoryVersionRepository(self.state)
        self.metrics = DatasetMetrics(CollectorRegistry())
        self.datasets = Datasets(self.items, self.versions, self.projects, self.uow, self.metrics)
        self.events: Dispatcher[DatasetFetch] = Dispatcher(
            handlers.TABLE,
            self.uow,
            "dataset",
            handlers.fetch_starter(self.projects, self.items, self.metrics),
        )

    async def hear(self, envelopes: Sequence[Envelope]) -> None:
        await self.events.handle(envelopes)

    async def project(self, project_id: str = "p1") -> None:
        spec = ProjectSpec(
            project_id=project_id, data_type=DataType.DATA_TYPE_IMAGE, classes=CLASSES
        )
        await self.hear([event(ProjectCreated(project=spec), project=project_id)])

    async def accepted(
        self,
        item: str,
        labels: Sequence[Label],
        annotator: str = "ann-1",
        reviewer: str = "rev-1",
        at: datetime = T0,
        project: str = "p1",
        metadata: dict[str, str] | None = None,
    ) -> None:
        """An item ingested, annotated by `annotator`, approved by `reviewer`, completed."""
        annotation = f"a-{item}-{at.timestamp():.0f}"
        await self.hear(
            [
                event(
                    ItemIngested(
                        data_type=DataType.DATA_TYPE_IMAGE,
                        media_key=f"projects/{project}/items/{item}",
                        content_sha256=f"sha-{item}",
                        content_type="image/png",
                        metadata=metadata or {},
                    ),
                    item,
                    at - timedelta(minutes=5),
                    project,
                ),
                event(
                    AnnotationSubmitted(
                        annotation_id=annotation, annotator=annotator, labels=labels
                    ),
                    item,
                    at - timedelta(minutes=2),
                    project,
                ),
                event(
                    ReviewDecided(
                        annotation_id=annotation,
                        decision=ReviewDecision.REVIEW_DECISION_APPROVED,
                        reviewer=reviewer,
                    ),
                    item,
                    at - timedelta(minutes=1),
                    project,
                ),
                event(
                    ItemCompleted(
                        annotation_id=annotation,
                        labels=labels,
                        completion_source=CompletionSource.COMPLETION_SOURCE_HUMAN,
                        policy_version=1,
                    ),
                    item,
                    at,
                    project,
                ),
            ]
        )

    async def version(
        self,
        filter: DatasetFilter | None = None,
        project: str = "p1",
        name: str = "v",
        split: SplitSpec | None = None,
        derived_from: str = "",
        rebalance: Rebalance | None = None,
    ) -> tuple[DatasetVersion, bool]:
        work = VersionWork(
            project,
            name,
            filter or DatasetFilter(),
            user_actor("lead"),
            "KIND_USER:lead",
            split or SplitSpec(),
            derived_from,
            rebalance or Rebalance(),
        )
        return await self.datasets.create_version(work)


class InMemoryExportJobRepository:
    def __init__(self, state: MemoryState) -> None:
        # Job id -> (job, worker, lease until).
        self.jobs: dict[str, tuple[ExportJob, str, datetime]] = state.table("dataset.export_jobs")

    async def add(self, job: ExportJob) -> ExportJob | None:
        if job.job_id in self.jobs:
            return _copy(self.jobs[job.job_id][0])
        self.jobs[job.job_id] = (_copy(job), "", _EPOCH)
        return None

    async def get(self, job_id: str) -> ExportJob | None:
        held = self.jobs.get(job_id)
        return _copy(held[0]) if held else None

    async def requeue(self, job: ExportJob) -> bool:
        held = self.jobs.get(job.job_id)
        if held is None or held[0].state != ExportState.EXPORT_STATE_FAILED:
            return False
        self.jobs[job.job_id] = (_copy(job), "", _EPOCH)
        return True

    async def claim(self, worker: str, now: datetime, lease_until: datetime) -> ExportJob | None:
        def claimable(state: int) -> list[ExportJob]:
            return sorted(
                (
                    job
                    for job, _, lease in self.jobs.values()
                    if job.state == state
                    and (state == ExportState.EXPORT_STATE_QUEUED or lease < now)
                ),
                key=lambda job: job.created_at.ToDatetime(UTC),
            )

        for state in (ExportState.EXPORT_STATE_QUEUED, ExportState.EXPORT_STATE_RUNNING):
            if found := claimable(state):
                job = found[0]
                self.jobs[job.job_id] = (job, worker, lease_until)
                return _copy(job)
        return None

    async def save(self, job: ExportJob, worker: str, lease_until: datetime) -> bool:
        held = self.jobs.get(job.job_id)
        if held is None or held[1] != worker:
            return False
        self.jobs[job.job_id] = (_copy(job), worker, lease_until)
        return True

    async def waiting(self) -> int:
        return sum(
            1 for job, _, _ in self.jobs.values() if job.state == ExportState.EXPORT_STATE_QUEUED
        )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _copy(job: ExportJob) -> ExportJob:
    copied = ExportJob()
    copied.CopyFrom(job)
    return copied
