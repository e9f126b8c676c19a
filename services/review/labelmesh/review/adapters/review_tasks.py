"""Review and adjudication tasks in MongoDB: the reviewers' queue."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from labelmesh.core.documents import aware, from_document, to_document
from labelmesh.core.labels import labels_to_json
from labelmesh.core.mongo import Document, session_of
from labelmesh.core.uow import Transaction
from labelmesh.review.adapters.documents import conflict_on_duplicate, labels_of, now
from labelmesh.review.records import ReviewTask, TaskKind, TaskStatus
from labelmesh.v1.events_pb2 import AnnotationCandidate

DECIDABLE = [TaskStatus.OPEN.value, TaskStatus.ASSIGNED.value]


def task_to_document(task: ReviewTask) -> Document:
    return to_document(
        task,
        "review_task_id",
        kind=task.kind.value,
        labels=labels_to_json(task.labels),
        candidates=[
            {
                "annotation_id": c.annotation_id,
                "annotator": c.annotator,
                "labels": labels_to_json(c.labels),
            }
            for c in task.candidates
        ],
        annotators=list(task.annotators),
        status=task.status.value,
        assignee=task.assignee or None,
    )


def task_from_document(document: Document) -> ReviewTask:
    return from_document(
        ReviewTask,
        document,
        "review_task_id",
        kind=TaskKind(document["kind"]),
        labels=labels_of(document["labels"]),
        candidates=[
            AnnotationCandidate(
                annotation_id=c["annotation_id"],
                annotator=c["annotator"],
                labels=labels_of(c["labels"]),
            )
            for c in document["candidates"]
        ],
        annotators=list(document["annotators"]),
        created_at=aware(document["created_at"]) or now(),
        status=TaskStatus(document["status"]),
        assignee=document.get("assignee") or "",
    )


class MongoReviewTaskRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.tasks = db["review_tasks"]

    async def ensure_indexes(self) -> None:
        await self.tasks.create_index(
            [("project_id", ASCENDING), ("status", ASCENDING), ("created_at", ASCENDING)]
        )
        # A reviewer's current task: bare equality on all three, a handful of matches.
        await self.tasks.create_index(
            [("project_id", ASCENDING), ("assignee", ASCENDING), ("status", ASCENDING)]
        )

    async def insert(self, tx: Transaction, tasks: Sequence[ReviewTask]) -> None:
        if not tasks:
            return
        try:
            await self.tasks.insert_many(
                [task_to_document(t) for t in tasks], session=session_of(tx)
            )
        except BulkWriteError as exc:
            raise conflict_on_duplicate(exc, "review task") or exc from exc

    async def get(self, task_id: str) -> ReviewTask | None:
        document = await self.tasks.find_one({"_id": task_id})
        return task_from_document(document) if document else None

    async def assigned_to(self, project_id: str, reviewer: str) -> ReviewTask | None:
        document = await self.tasks.find_one(
            {"project_id": project_id, "status": TaskStatus.ASSIGNED.value, "assignee": reviewer}
        )
        return task_from_document(document) if document else None

    async def claim(
        self, project_id: str, reviewer: str, roles: Sequence[str], teams: Sequence[str]
    ) -> ReviewTask | None:
        document = await self.tasks.find_one_and_update(
            {
                "project_id": project_id,
                "status": TaskStatus.OPEN.value,
                "annotators": {"$ne": reviewer},
                "$or": [{"role": {"$in": list(roles)}}, {"team": {"$in": list(teams)}}],
            },
            {
                "$set": {
                    "status": TaskStatus.ASSIGNED.value,
                    "assignee": reviewer,
                    "assigned_at": now(),
                }
            },
            sort=[("created_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )
        return task_from_document(document) if document else None

    async def close(self, tx: Transaction, task_id: str, reviewer: str) -> bool:
        result = await self.tasks.update_one(
            {"_id": task_id, "status": {"$in": DECIDABLE}},
            {
                "$set": {
                    "status": TaskStatus.DECIDED.value,
                    "assignee": reviewer,
                    "decided_at": now(),
                }
            },
            session=session_of(tx),
        )
        return result.modified_count == 1

    async def cancel(self, task_id: str) -> None:
        await self.tasks.update_one(
            {"_id": task_id, "status": {"$in": DECIDABLE}},
            {"$set": {"status": TaskStatus.CANCELLED.value, "cancelled_at": now()}},
        )
