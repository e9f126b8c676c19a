"""The loop that runs export jobs, one at a time per replica.

A job is claimed under a lease that a heartbeat renews every few seconds
while it runs, whatever the export is doing, so a job never times out however
long it takes; if the replica dies, the lease runs out and another replica
runs the job again from the start. The archive is built on local disk and
then uploaded, so the object store only ever holds whole archives.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from labelmesh.core.claim_loop import run_claims
from labelmesh.core.storage import ObjectNotFound
from labelmesh.dataset.export_jobs import Exports, archive_key
from labelmesh.dataset.exports.archive import archive_content_type
from labelmesh.dataset.exports.base import ExportFailed
from labelmesh.dataset.exports.formats import FORMATS
from labelmesh.dataset.exports.runner import ExportRun, write_export
from labelmesh.v1.dataset_service_pb2 import DatasetItem, ExportJob, ExportState

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
HEARTBEAT_SECONDS = 5.0
POLL_SECONDS = 5.0
# Media objects read at once while a chunk is gathered.
MEDIA_READS = 8
_HASH_BYTES = 1024 * 1024


class LostLease(Exception):
    """Another worker took the job over; this one stops without writing."""


class ExportWorker:
    def __init__(self, exports: Exports, workdir: Path) -> None:
        self.exports = exports
        self.workdir = workdir
        self.name = f"export-worker-{uuid.uuid4().hex[:12]}"
        self.waiting = asyncio.Event()
        exports.wake = self.waiting.set

    async def run(self) -> None:
        """Run jobs as they come, until cancelled."""
        await run_claims(self.run_next, self.waiting, POLL_SECONDS, "an export job")

    async def run_next(self) -> bool:
        """Claim and run one job; False if none was waiting."""
        now = datetime.now(UTC)
        job = await self.exports.jobs.claim(self.name, now, now + LEASE)
        if job is None:
            return False
        job.state = ExportState.EXPORT_STATE_RUNNING
        job.items_done = 0
        job.error = ""
        try:
            async with self._heartbeat(job):
                await self._export(job)
                job.state = ExportState.EXPORT_STATE_SUCCEEDED
        except LostLease:
            log.warning("export %s was taken over by another worker", job.job_id)
            return True
        except (ExportFailed, ObjectNotFound) as error:
            job.state = ExportState.EXPORT_STATE_FAILED
            job.error = str(error)
        except Exception as error:
            log.exception("export %s failed", job.job_id)
            job.state = ExportState.EXPORT_STATE_FAILED
            job.error = f"internal error: {type(error).__name__}; asking again retries it"
        await self._save(job)
        return True

    async def _export(self, job: ExportJob) -> None:
        stored = await self.exports.datasets.version(job.version_id)
        workdir = Path(await asyncio.to_thread(_private_directory, self.workdir))
        try:
            run = ExportRun(
                stored.version, FORMATS[job.format], job.archive, job.include_media, workdir
            )

            async def progress(done: int) -> None:
                job.items_done = done

            chunks = self.exports.datasets.manifest_chunks(stored)
            path = await write_export(run, chunks, self._read_media, progress)
            job.size_bytes, job.sha256 = await asyncio.to_thread(_size_and_sha256, path)
            await self.exports.store.put_file(
                archive_key(job), path, archive_content_type(job.archive)
            )
        finally:
            await asyncio.to_thread(shutil.rmtree, workdir, True)

    async def _read_media(self, items: Sequence[DatasetItem]) -> list[bytes | None]:
        gate = asyncio.Semaphore(MEDIA_READS)

        async def read(item: DatasetItem) -> bytes | None:
            if item.media_uri and not item.media_key:
                raise ExportFailed(
                    f"item {item.item_id}: its media stays in {item.media_uri}, which exports "
                    "do not read; export without media, or sync the bucket by copy"
                )
            if not item.media_key:
                return None
            async with gate:
                try:
                    return await self.exports.store.get(item.media_key)
                except ObjectNotFound:
                    missing = f"item {item.item_id}: its media {item.media_key!r} is not stored"
                    raise ExportFailed(missing) from None

        return list(await asyncio.gather(*(read(item) for item in items)))

    @contextlib.asynccontextmanager
    async def _heartbeat(self, job: ExportJob) -> AsyncIterator[None]:
        """Save the job's progress and renew its lease every few seconds while
        the body runs; the body is cancelled with LostLease if the lease is lost."""
        body = asyncio.current_task()
        assert body is not None
        lost = False

        async def beat() -> None:
            nonlocal lost
            while True:
                try:
                    await self._save(job)
                except LostLease:
                    lost = True
                    body.cancel()
                    return
                except Exception:
                    log.exception("saving the progress of export %s failed", job.job_id)
                await asyncio.sleep(HEARTBEAT_SECONDS)

        beating = asyncio.create_task(beat())
        try:
            yield
        except asyncio.CancelledError:
            if lost:
                body.uncancel()
                raise LostLease() from None
            raise
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating

    async def _save(self, job: ExportJob) -> None:
        now = datetime.now(UTC)
        job.updated_at.FromDatetime(now)
        if not await self.exports.jobs.save(job, self.name, now + LEASE):
            raise LostLease()


def _private_directory(parent: Path) -> str:
    parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkdtemp(dir=parent)


def _size_and_sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while block := file.read(_HASH_BYTES):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()
