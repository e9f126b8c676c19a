"""Export jobs in MongoDB: each job's message, with the fields the queue is read by."""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from labelmesh.core.mongo import Document
from labelmesh.v1.dataset_service_pb2 import ExportJob, ExportState

JOBS = "dataset_export_jobs"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def job_document(job: ExportJob, worker: str = "", lease_until: datetime = _EPOCH) -> Document:
    return {
        "_id": job.job_id,
        "state": int(job.state),
        "created_at": job.created_at.ToDatetime(UTC),
        "worker": worker,
        "lease_until": lease_until,
        "job": job.SerializeToString(deterministic=True),
    }


def job_of(document: Document) -> ExportJob:
    job = ExportJob()
    job.ParseFromString(document["job"])
    return job


class MongoExportJobRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.jobs = db[JOBS]

    async def ensure_indexes(self) -> None:
        await self.jobs.create_index([("state", ASCENDING), ("created_at", ASCENDING)])

    async def add(self, job: ExportJob) -> ExportJob | None:
        try:
            await self.jobs.insert_one(job_document(job))
        except DuplicateKeyError:
            return await self.get(job.job_id)
        return None

    async def get(self, job_id: str) -> ExportJob | None:
        document = await self.jobs.find_one({"_id": job_id})
        return job_of(document) if document else None

    async def requeue(self, job: ExportJob) -> bool:
        result = await self.jobs.replace_one(
            {"_id": job.job_id, "state": ExportState.EXPORT_STATE_FAILED}, job_document(job)
        )
        return result.modified_count == 1

    async def claim(self, worker: str, now: datetime, lease_until: datetime) -> ExportJob | None:
        # Two indexed ranges, queued jobs first: never a scan of finished jobs.
        for wanted in (
            {"state": ExportState.EXPORT_STATE_QUEUED},
            {"state": ExportState.EXPORT_STATE_RUNNING, "lease_until": {"$lt": now}},
        ):
            document = await self.jobs.find_one_and_update(
                wanted,
                {"$set": {"worker": worker, "lease_until": lease_until}},
                sort=[("state", ASCENDING), ("created_at", ASCENDING)],
                return_document=ReturnDocument.AFTER,
            )
            if document is not None:
                return job_of(document)
        return None

    async def save(self, job: ExportJob, worker: str, lease_until: datetime) -> bool:
        result = await self.jobs.replace_one(
            {"_id": job.job_id, "worker": worker}, job_document(job, worker, lease_until)
        )
        return result.modified_count == 1

    async def waiting(self) -> int:
        return await self.jobs.count_documents({"state": ExportState.EXPORT_STATE_QUEUED})
