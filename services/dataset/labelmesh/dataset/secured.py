"""What the dataset APIs call: each use case behind its caller's authorisation.

Listing a project's items takes the right to read its items, which every
role has; their classes and annotators, and filters on them, take the right
to read every annotator's labels.

Versions hold every accepted label, so reading them takes the right to read
every annotator's labels; making them takes MANAGE_DATASETS. A version of a
project the caller cannot see is not found.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from labelmesh.core.access import Permission, Principal, ProjectGate
from labelmesh.core.errors import Conflict, Forbidden
from labelmesh.dataset.charts import balance_png
from labelmesh.dataset.export_jobs import ExportAsk, Exports
from labelmesh.dataset.records import ItemSummary, StoredVersion
from labelmesh.dataset.usecases import Datasets, VersionWork
from labelmesh.v1.dataset_service_pb2 import (
    CreateDatasetVersionRequest,
    DatasetItem,
    DiffSummary,
    ExportJob,
    ExportState,
    ItemChange,
    ListItemsRequest,
    StartExportRequest,
)
from labelmesh.v1.events_pb2 import DatasetVersion


@dataclass(frozen=True)
class SecuredDatasets:
    datasets: Datasets
    exports: Exports
    gate: ProjectGate

    async def create_version(
        self, caller: Principal, request: CreateDatasetVersionRequest
    ) -> tuple[DatasetVersion, bool]:
        await self.gate.check(caller, Permission.MANAGE_DATASETS, request.project_id)
        work = VersionWork(
            request.project_id,
            request.name,
            request.filter,
            caller.actor,
            caller.label,
            request.split,
            request.derived_from,
            request.rebalance,
            request.augmentation,
        )
        return await self.datasets.create_version(work)

    async def list_items(
        self, caller: Principal, request: ListItemsRequest
    ) -> tuple[list[ItemSummary], str]:
        project_id = request.project_id
        await self.gate.check(caller, Permission.READ_ITEMS, project_id)
        labels = await self.gate.allows(caller, Permission.READ_LABELS, project_id)
        for name, asked in (("class", request.class_name), ("annotator", request.annotator)):
            if asked and not labels:
                raise Forbidden(
                    f"filtering by {name} takes the right to read every annotator's labels",
                    caller.actor,
                    project_id,
                )
        items, token = await self.datasets.list_items(request)
        if not labels:
            items = [replace(i, classes=(), annotators=()) for i in items]
        return items, token

    async def version(self, caller: Principal, version_id: str) -> StoredVersion:
        stored = await self.datasets.version(version_id)
        await self.gate.check(caller, Permission.READ_LABELS, stored.version.project_id)
        return stored

    async def balance_chart(self, caller: Principal, version_id: str) -> bytes:
        stored = await self.version(caller, version_id)
        # Drawing is CPU work: off the event loop.
        return await asyncio.to_thread(balance_png, stored.version)

    async def stream(
        self, caller: Principal, version_id: str
    ) -> tuple[StoredVersion, AsyncIterator[list[DatasetItem]]]:
        """The version, checked before its first item is read, and its items."""
        stored = await self.version(caller, version_id)
        return stored, self.datasets.chunks(stored)

    async def stream_jsonl(
        self, caller: Principal, version_id: str
    ) -> tuple[StoredVersion, AsyncIterator[bytes]]:
        """The version, checked before its first line is read, and its JSONL."""
        stored = await self.version(caller, version_id)
        return stored, self.datasets.jsonl(stored)

    async def list_versions(
        self, caller: Principal, project_id: str, page_size: int, token: str
    ) -> tuple[list[DatasetVersion], str]:
        await self.gate.check(caller, Permission.READ_LABELS, project_id)
        return await self.datasets.list_versions(project_id, page_size, token)

    async def items_page(
        self, caller: Principal, version_id: str, page_size: int, token: str
    ) -> tuple[list[DatasetItem], str]:
        return await self.datasets.items_page(
            await self.version(caller, version_id), page_size, token
        )

    async def diff(
        self, caller: Principal, from_id: str, to_id: str, summary: DiffSummary
    ) -> AsyncIterator[ItemChange]:
        """Both versions are checked before the first change is read."""
        before = await self.version(caller, from_id)
        after = await self.version(caller, to_id)
        return self.datasets.diff(before, after, summary)

    async def start_export(
        self, caller: Principal, request: StartExportRequest
    ) -> tuple[ExportJob, bool]:
        stored = await self.version(caller, request.version_id)
        return await self.exports.start(stored, ExportAsk(request, caller.label))

    async def export_job(self, caller: Principal, job_id: str) -> ExportJob:
        job = await self.exports.job(job_id)
        await self.gate.check(caller, Permission.READ_LABELS, job.project_id)
        return job

    async def finished_export(self, caller: Principal, job_id: str) -> ExportJob:
        """The job, which must have written its archive."""
        job = await self.export_job(caller, job_id)
        if job.state != ExportState.EXPORT_STATE_SUCCEEDED:
            state = ExportState.Name(job.state).removeprefix("EXPORT_STATE_").lower()
            raise Conflict(f"export {job_id} is {state}; its archive is not written yet")
        return job

    def export_pieces(
        self, job: ExportJob, start: int, stop: int
    ) -> AsyncIterator[tuple[int, bytes]]:
        """Bytes of a finished job the caller was given by finished_export."""
        return self.exports.pieces(job, start, stop)
