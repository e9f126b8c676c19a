"""The export job repository contract, against the in-memory twin and SecantusDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document
from labelmesh.dataset.adapters.export_jobs import MongoExportJobRepository
from labelmesh.dataset.ports import ExportJobRepository
from labelmesh.testing.backends import Backend
from labelmesh.testing.memory import MemoryState
from labelmesh.testing.twins.dataset import InMemoryExportJobRepository
from labelmesh.v1.dataset_service_pb2 import ExportFormat, ExportJob, ExportState

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
LEASE = timedelta(seconds=60)


async def jobs_of(backend: Backend) -> ExportJobRepository:
    def twin(state: MemoryState) -> ExportJobRepository:
        return InMemoryExportJobRepository(state)

    def mongo(db: AsyncDatabase[Document]) -> ExportJobRepository:
        return MongoExportJobRepository(db)

    jobs = backend.pick(twin, mongo)
    if isinstance(jobs, MongoExportJobRepository):
        await jobs.ensure_indexes()
    return jobs


def queued(job_id: str, minutes: int = 0) -> ExportJob:
    job = ExportJob(
        job_id=job_id,
        version_id="v1",
        project_id="p1",
        format=ExportFormat.EXPORT_FORMAT_COCO,
        state=ExportState.EXPORT_STATE_QUEUED,
        items_total=10,
    )
    job.created_at.FromDatetime(AT + timedelta(minutes=minutes))
    return job


async def test_a_job_is_added_once_and_read_back(backend: Backend) -> None:
    jobs = await jobs_of(backend)
    assert await jobs.add(queued("j1")) is None
    again = queued("j1")
    again.items_total = 99
    assert await jobs.add(again) == queued("j1")
    assert await jobs.get("j1") == queued("j1")
    assert await jobs.get("nope") is None
    assert await jobs.waiting() == 1


async def test_jobs_are_claimed_oldest_first_and_once(backend: Backend) -> None:
    jobs = await jobs_of(backend)
    await jobs.add(queued("late", minutes=5))
    await jobs.add(queued("early", minutes=1))
    first = await jobs.claim("w1", AT, AT + LEASE)
    assert first is not None and first.job_id == "early"
    first.state = ExportState.EXPORT_STATE_RUNNING
    assert await jobs.save(first, "w1", AT + LEASE)
    second = await jobs.claim("w2", AT, AT + LEASE)
    assert second is not None and second.job_id == "late"
    second.state = ExportState.EXPORT_STATE_RUNNING
    assert await jobs.save(second, "w2", AT + LEASE)
    assert await jobs.claim("w3", AT, AT + LEASE) is None
    assert await jobs.waiting() == 0


async def test_a_job_whose_lease_ran_out_is_taken_over(backend: Backend) -> None:
    jobs = await jobs_of(backend)
    await jobs.add(queued("j1"))
    job = await jobs.claim("w1", AT, AT + LEASE)
    assert job is not None
    job.state = ExportState.EXPORT_STATE_RUNNING
    job.items_done = 4
    assert await jobs.save(job, "w1", AT + LEASE)
    assert await jobs.claim("w2", AT + LEASE / 2, AT + LEASE * 2) is None
    taken = await jobs.claim("w2", AT + LEASE * 2, AT + LEASE * 3)
    assert taken is not None and taken.items_done == 4
    # The first worker lost it: its saves are refused and change nothing.
    job.items_done = 9
    assert not await jobs.save(job, "w1", AT + LEASE * 4)
    stored = await jobs.get("j1")
    assert stored is not None and stored.items_done == 4


async def test_only_a_failed_job_is_requeued(backend: Backend) -> None:
    jobs = await jobs_of(backend)
    await jobs.add(queued("j1"))
    assert not await jobs.requeue(queued("j1"))
    job = await jobs.claim("w1", AT, AT + LEASE)
    assert job is not None
    job.state = ExportState.EXPORT_STATE_FAILED
    job.error = "item i1: its media is not stored"
    assert await jobs.save(job, "w1", AT + LEASE)
    assert await jobs.waiting() == 0
    assert await jobs.requeue(queued("j1"))
    assert await jobs.get("j1") == queued("j1")
    assert await jobs.waiting() == 1
    reclaimed = await jobs.claim("w2", AT, AT + LEASE)
    assert reclaimed is not None and reclaimed.job_id == "j1"
