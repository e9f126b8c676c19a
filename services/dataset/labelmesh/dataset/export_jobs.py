"""Export jobs: asking for an export of a version, following it, and reading
its archive back from the object store.

A job's id is derived from the version and the export's settings, and a
version never changes, so asking for the same export twice returns the job
made the first time; only a failed job is run again.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from labelmesh.core.errors import InvalidField, NotFound, RateLimited
from labelmesh.core.storage import ObjectStore
from labelmesh.dataset.exports.archive import archive_suffix
from labelmesh.dataset.exports.formats import format_spec
from labelmesh.dataset.ports import ExportJobRepository
from labelmesh.dataset.records import StoredVersion
from labelmesh.dataset.usecases import Datasets
from labelmesh.v1.dataset_service_pb2 import (
    ArchiveFormat,
    ExportFormat,
    ExportJob,
    ExportState,
    StartExportRequest,
)

# Seconds a caller refused for a full queue is told to wait.
QUEUE_FULL_RETRY_SECONDS = 30
# Archive bytes read from the object store at a time when a download is served,
# under gRPC's 4 MB message limit.
PIECE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ExportAsk:
    """Who asks for which export."""

    request: StartExportRequest
    actor_label: str


@dataclass(eq=False)
class Exports:
    datasets: Datasets
    jobs: ExportJobRepository
    store: ObjectStore
    max_waiting: int
    # Tells this replica's worker that a job is waiting.
    wake: Callable[[], None] = lambda: None

    async def start(self, stored: StoredVersion, ask: ExportAsk) -> tuple[ExportJob, bool]:
        """The job of this export, made and queued unless it was asked for before."""
        request = ask.request
        version = stored.version
        project = await self.datasets.project(version.project_id)
        format_spec(request.format, project.data_type)
        archive = request.archive or ArchiveFormat.ARCHIVE_FORMAT_ZIP
        if archive not in ArchiveFormat.values():
            raise InvalidField("archive", "must be ARCHIVE_FORMAT_ZIP or ARCHIVE_FORMAT_TAR")
        job_id = export_job_id(version.version_id, request.format, archive, request.include_media)
        before = await self.jobs.get(job_id)
        if before is not None and before.state != ExportState.EXPORT_STATE_FAILED:
            return before, False
        if await self.jobs.waiting() >= self.max_waiting:
            raise RateLimited(
                f"{self.max_waiting} exports are waiting already; ask again later",
                QUEUE_FULL_RETRY_SECONDS,
            )
        job = ExportJob(
            job_id=job_id,
            version_id=version.version_id,
            project_id=version.project_id,
            format=request.format,
            archive=archive,
            include_media=request.include_media,
            state=ExportState.EXPORT_STATE_QUEUED,
            items_total=version.item_count,
            filename=export_filename(version.name, version.version_id, request.format, archive),
            created_by=ask.actor_label,
        )
        now = datetime.now(UTC)
        job.created_at.FromDatetime(now)
        job.updated_at.FromDatetime(now)
        if before is not None:
            made = await self.jobs.requeue(job)
        else:
            made = await self.jobs.add(job) is None
        if not made:  # another request made or retried it meanwhile
            return await self.job(job_id), False
        self.wake()
        return job, True

    async def job(self, job_id: str) -> ExportJob:
        job = await self.jobs.get(job_id)
        if job is None:
            raise NotFound("export", job_id)
        return job

    async def pieces(
        self, job: ExportJob, start: int, stop: int
    ) -> AsyncIterator[tuple[int, bytes]]:
        """A finished job's archive from byte `start` to `stop` (exclusive), read
        from the object store PIECE_BYTES at a time, each with where it starts."""
        at = start
        while at < stop:
            data = await self.store.read_range(archive_key(job), at, min(PIECE_BYTES, stop - at))
            if not data:
                return
            yield at, data
            at += len(data)


def export_job_id(version_id: str, export_format: int, archive: int, include_media: bool) -> str:
    settings = f"{version_id}\x00{export_format}\x00{archive}\x00{int(include_media)}"
    return hashlib.sha256(settings.encode()).hexdigest()[:32]


def archive_key(job: ExportJob) -> str:
    """Where the job's archive is kept in the object store."""
    suffix = archive_suffix(job.archive)
    return f"exports/{job.project_id}/{job.version_id}/{job.job_id}{suffix}"


def export_filename(name: str, version_id: str, export_format: int, archive: int) -> str:
    kind = ExportFormat.Name(export_format).removeprefix("EXPORT_FORMAT_").lower()
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name) or "dataset"
    return f"{safe}-{version_id[:12]}-{kind}{archive_suffix(archive)}"
