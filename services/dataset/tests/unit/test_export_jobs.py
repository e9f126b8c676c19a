"""Export jobs on the in-memory twins, with the real local-disk object store:
asking, queueing, running, failing and asking again."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from labelmesh.core.errors import InvalidField, RateLimited
from labelmesh.core.storage import LocalDiskStore
from labelmesh.dataset.export_jobs import ExportAsk, Exports, archive_key
from labelmesh.dataset.export_worker import ExportWorker
from labelmesh.testing.exports import png
from labelmesh.testing.memory import MemoryState
from labelmesh.testing.twins.dataset import (
    DatasetWorld,
    InMemoryExportJobRepository,
    box,
    cls,
    event,
)
from labelmesh.v1.dataset_service_pb2 import (
    ArchiveFormat,
    ExportFormat,
    ExportJob,
    ExportState,
    StartExportRequest,
)
from labelmesh.v1.events_pb2 import DatasetVersion, DataType, ItemIngested


class Setup:
    def __init__(self, world: DatasetWorld, root: Path, max_waiting: int = 8) -> None:
        self.world = world
        self.store = LocalDiskStore(root / "store")
        self.jobs = InMemoryExportJobRepository(MemoryState())
        self.exports = Exports(world.datasets, self.jobs, self.store, max_waiting)
        self.worker = ExportWorker(self.exports, root / "work")

    async def version(self, items: int = 3) -> DatasetVersion:
        await self.world.project()
        for n in range(items):
            item = f"i{n}"
            await self.world.accepted(item, [box("cat", x=n + 1), cls("dog")])
            await self.store.put(f"projects/p1/items/{item}", png(16, 12, seed=n), "image/png")
        version, _ = await self.world.version()
        return version

    def ask(self, version: DatasetVersion, export_format: int, **fields: object) -> ExportAsk:
        request = StartExportRequest(version_id=version.version_id, format=export_format, **fields)
        return ExportAsk(request, "KIND_USER:lead")


@pytest.fixture
def setup(world: DatasetWorld, tmp_path: Path) -> Setup:
    return Setup(world, tmp_path)


async def test_an_export_is_queued_run_and_stored_whole(setup: Setup) -> None:
    version = await setup.version()
    stored = await setup.world.datasets.version(version.version_id)
    job, created = await setup.exports.start(
        stored, setup.ask(version, ExportFormat.EXPORT_FORMAT_JSONL)
    )
    assert created and job.state == ExportState.EXPORT_STATE_QUEUED
    assert job.items_total == 3 and job.archive == ArchiveFormat.ARCHIVE_FORMAT_ZIP
    assert job.filename.endswith("-jsonl.zip")

    assert await setup.worker.run_next()
    done = await setup.exports.job(job.job_id)
    assert done.state == ExportState.EXPORT_STATE_SUCCEEDED, done.error
    assert done.items_done == 3
    archive = await setup.store.get(archive_key(done))
    assert len(archive) == done.size_bytes
    path = setup.worker.workdir / "fetched.zip"
    path.write_bytes(archive)
    with zipfile.ZipFile(path) as zipped:
        lines = zipped.read("dataset.jsonl").decode().splitlines()
    assert sorted(json.loads(line)["item_id"] for line in lines) == ["i0", "i1", "i2"]
    # Nothing is left behind in the working directory.
    assert [p.name for p in setup.worker.workdir.iterdir()] == ["fetched.zip"]
    assert not await setup.worker.run_next()


async def test_the_same_export_asked_twice_is_one_job(setup: Setup) -> None:
    version = await setup.version()
    stored = await setup.world.datasets.version(version.version_id)
    ask = setup.ask(version, ExportFormat.EXPORT_FORMAT_JSONL)
    first, _ = await setup.exports.start(stored, ask)
    second, created = await setup.exports.start(stored, ask)
    assert not created and second.job_id == first.job_id
    tar, created = await setup.exports.start(
        stored,
        setup.ask(
            version, ExportFormat.EXPORT_FORMAT_JSONL, archive=ArchiveFormat.ARCHIVE_FORMAT_TAR
        ),
    )
    assert created and tar.job_id != first.job_id
    assert tar.filename.endswith(".tar")


async def test_a_job_whose_media_is_missing_fails_naming_the_item_and_is_retried(
    setup: Setup,
) -> None:
    version = await setup.version()
    await setup.store.delete("projects/p1/items/i1")
    stored = await setup.world.datasets.version(version.version_id)
    ask = setup.ask(version, ExportFormat.EXPORT_FORMAT_COCO)
    job, _ = await setup.exports.start(stored, ask)
    await setup.worker.run_next()
    failed = await setup.exports.job(job.job_id)
    assert failed.state == ExportState.EXPORT_STATE_FAILED
    assert "item i1" in failed.error and "projects/p1/items/i1" in failed.error
    assert not await setup.store.exists(archive_key(failed))

    await setup.store.put("projects/p1/items/i1", png(16, 12), "image/png")
    again, created = await setup.exports.start(stored, ask)
    assert created and again.state == ExportState.EXPORT_STATE_QUEUED
    await setup.worker.run_next()
    assert (await setup.exports.job(job.job_id)).state == ExportState.EXPORT_STATE_SUCCEEDED


async def test_an_export_with_media_kept_in_a_customers_bucket_fails_naming_it(
    setup: Setup,
) -> None:
    await setup.world.project()
    await setup.world.accepted("i0", [box("cat")])
    referenced = ItemIngested(
        data_type=DataType.DATA_TYPE_IMAGE, media_uri="s3://photos/i0.png", width=16, height=12
    )
    await setup.world.hear([event(referenced, "i0")])
    version, _ = await setup.world.version()
    stored = await setup.world.datasets.version(version.version_id)
    ask = setup.ask(version, ExportFormat.EXPORT_FORMAT_COCO, include_media=True)

    job, _ = await setup.exports.start(stored, ask)
    await setup.worker.run_next()

    failed = await setup.exports.job(job.job_id)
    assert failed.state == ExportState.EXPORT_STATE_FAILED
    assert "item i0" in failed.error and "s3://photos/i0.png" in failed.error


async def test_a_format_that_does_not_fit_the_project_is_refused(setup: Setup) -> None:
    version = await setup.version(items=1)
    stored = await setup.world.datasets.version(version.version_id)
    with pytest.raises(InvalidField) as refused:
        await setup.exports.start(stored, setup.ask(version, ExportFormat.EXPORT_FORMAT_CONLL2003))
    assert refused.value.field == "format" and "image project" in refused.value.reason
    with pytest.raises(InvalidField) as unset:
        await setup.exports.start(stored, setup.ask(version, 0))
    assert unset.value.field == "format"
    with pytest.raises(InvalidField) as archive:
        await setup.exports.start(
            stored, setup.ask(version, ExportFormat.EXPORT_FORMAT_JSONL, archive=7)
        )
    assert archive.value.field == "archive"
    assert await setup.jobs.waiting() == 0


async def test_past_the_queue_limit_new_exports_are_refused(
    world: DatasetWorld, tmp_path: Path
) -> None:
    setup = Setup(world, tmp_path, max_waiting=1)
    version = await setup.version(items=1)
    stored = await setup.world.datasets.version(version.version_id)
    await setup.exports.start(stored, setup.ask(version, ExportFormat.EXPORT_FORMAT_JSONL))
    with pytest.raises(RateLimited) as refused:
        await setup.exports.start(stored, setup.ask(version, ExportFormat.EXPORT_FORMAT_COCO))
    assert refused.value.retry_after > 0
    # The export already queued is still answered.
    _, created = await setup.exports.start(
        stored, setup.ask(version, ExportFormat.EXPORT_FORMAT_JSONL)
    )
    assert not created


class TakenOverJobs(InMemoryExportJobRepository):
    """Hands a job to the worker, while another worker already holds it."""

    async def claim(self, worker: str, now: datetime, lease_until: datetime) -> ExportJob | None:
        job = await super().claim(worker, now, lease_until)
        if job is not None:
            self.jobs[job.job_id] = (self.jobs[job.job_id][0], "another-worker", lease_until)
        return job


async def test_a_worker_that_lost_its_lease_stops_without_writing(
    world: DatasetWorld, tmp_path: Path
) -> None:
    setup = Setup(world, tmp_path)
    setup.jobs = TakenOverJobs(MemoryState())
    setup.exports.jobs = setup.jobs
    version = await setup.version(items=2)
    stored = await setup.world.datasets.version(version.version_id)
    job, _ = await setup.exports.start(stored, setup.ask(version, ExportFormat.EXPORT_FORMAT_JSONL))
    assert await setup.worker.run_next()
    after = await setup.exports.job(job.job_id)
    assert after.state == ExportState.EXPORT_STATE_QUEUED and after.error == ""
    assert not await setup.store.exists(archive_key(after))
