"""The annotation service's MongoDB collections: projects, tasks, annotations.

A task document carries the item's details too (taken from ItemIngested), so
that ItemIngested and PredictionCreated can arrive in either order: each
upserts the same document by item id.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.labels import labels_to_json
from labelmesh.core.mongo import Document, Transaction
from labelmesh.v1.events_pb2 import ItemIngested, ModelRef, ProjectSpec
from labelmesh.v1.geometry_pb2 import Label

PENDING = "pending"  # waiting for a prediction
OPEN = "open"
ASSIGNED = "assigned"
SUBMITTED = "submitted"
COMPLETED = "completed"
AUTO_ACCEPTED = "auto_accepted"


def _now() -> datetime:
    return datetime.now(UTC)


class AnnotationRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.projects = db["projects"]
        self.tasks = db["tasks"]
        self.annotations = db["annotations"]

    async def ensure_indexes(self) -> None:
        await self.tasks.create_index("item_id", unique=True)
        await self.tasks.create_index(
            [("project_id", ASCENDING), ("status", ASCENDING), ("created_at", ASCENDING)]
        )
        await self.annotations.create_index("item_id")

    async def insert_project(self, tx: Transaction, project: ProjectSpec) -> None:
        await self.projects.insert_one(
            {"_id": project.project_id, "spec": project.SerializeToString(), "created_at": _now()},
            session=tx.session,
        )

    async def get_project(self, project_id: str) -> ProjectSpec | None:
        document = await self.projects.find_one({"_id": project_id})
        return ProjectSpec.FromString(document["spec"]) if document else None

    @staticmethod
    def item_update(project_id: str, item_id: str, item: ItemIngested) -> UpdateOne:
        """Fill in the item's details on its task, creating the task if needed."""
        return UpdateOne(
            {"item_id": item_id},
            {
                "$set": {
                    "project_id": project_id,
                    "data_type": item.data_type,
                    "text": item.text,
                    "media_key": item.media_key,
                    "item_ready": True,
                },
                "$setOnInsert": {
                    "_id": str(uuid.uuid4()),
                    "status": PENDING,
                    "created_at": _now(),
                    "rework_count": 0,
                },
            },
            upsert=True,
        )

    @staticmethod
    def suggestion_update(
        project_id: str,
        item_id: str,
        labels: Sequence[Label],
        model: ModelRef,
        status: str,
        prediction_error: str = "",
    ) -> UpdateOne:
        """Attach a model suggestion to the item's task and set its status."""
        return UpdateOne(
            {"item_id": item_id},
            {
                "$set": {
                    "project_id": project_id,
                    "status": status,
                    "suggestion": labels_to_json(labels),
                    "suggestion_model": {"id": model.id, "version": model.version},
                    "prediction_error": prediction_error,
                    "updated_at": _now(),
                },
                "$setOnInsert": {
                    "_id": str(uuid.uuid4()),
                    "item_ready": False,
                    "created_at": _now(),
                    "rework_count": 0,
                },
            },
            upsert=True,
        )

    @staticmethod
    def assist_update(item_id: str, labels: Sequence[Label]) -> UpdateOne:
        """Add on-demand suggestions to a task that still waits for a person."""
        return UpdateOne(
            {"item_id": item_id, "status": {"$in": [PENDING, OPEN, ASSIGNED]}},
            {
                "$push": {"suggestion": {"$each": labels_to_json(labels)}},
                "$set": {"updated_at": _now()},
            },
        )

    async def replace_suggestions(
        self, tx: Transaction, task_id: str, labels: Sequence[Label]
    ) -> bool:
        """Set the task's open suggestions; False if the task left the queue meanwhile."""
        result = await self.tasks.update_one(
            {"_id": task_id, "status": {"$in": [OPEN, ASSIGNED]}},
            {"$set": {"suggestion": labels_to_json(labels), "updated_at": _now()}},
            session=tx.session,
        )
        return result.modified_count == 1

    @staticmethod
    def status_update(task_id: str, status: str, *, reopen: bool = False) -> UpdateOne:
        update: dict[str, Any] = {"$set": {"status": status, "updated_at": _now()}}
        if reopen:
            update["$set"]["assignee"] = None
            update["$inc"] = {"rework_count": 1}
        return UpdateOne({"_id": task_id}, update)

    async def write_tasks(self, tx: Transaction, updates: list[UpdateOne]) -> None:
        """Apply task updates in order, in one round trip."""
        if updates:
            await self.tasks.bulk_write(updates, ordered=True, session=tx.session)

    async def task_ids(self, tx: Transaction, item_ids: Sequence[str]) -> dict[str, str]:
        cursor = self.tasks.find(
            {"item_id": {"$in": list(item_ids)}}, {"item_id": 1}, session=tx.session
        )
        return {d["item_id"]: d["_id"] async for d in cursor}

    async def assigned_task(self, project_id: str, annotator: str) -> Document | None:
        return await self.tasks.find_one(
            {"project_id": project_id, "status": ASSIGNED, "assignee": annotator}
        )

    async def claim_next_task(self, project_id: str, annotator: str) -> Document | None:
        """Atomically assign the oldest open, ready task to the annotator."""
        return await self.tasks.find_one_and_update(
            {"project_id": project_id, "status": OPEN, "item_ready": True},
            {"$set": {"status": ASSIGNED, "assignee": annotator, "assigned_at": _now()}},
            sort=[("created_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )

    async def get_task(self, task_id: str, tx: Transaction | None = None) -> Document | None:
        return await self.tasks.find_one({"_id": task_id}, session=tx.session if tx else None)

    async def mark_submitted(self, tx: Transaction, task_id: str, annotator: str) -> bool:
        """Move a task to submitted; False if someone else got there first."""
        result = await self.tasks.update_one(
            {
                "_id": task_id,
                "status": {"$in": [OPEN, ASSIGNED]},
                "assignee": {"$in": [None, annotator]},
            },
            {"$set": {"status": SUBMITTED, "assignee": annotator, "submitted_at": _now()}},
            session=tx.session,
        )
        return result.modified_count == 1

    async def insert_annotations(self, tx: Transaction, annotations: list[Document]) -> None:
        if annotations:
            now = _now()
            await self.annotations.insert_many(
                [{**a, "created_at": now} for a in annotations], session=tx.session
            )

    async def annotations_of_item(self, item_id: str) -> list[Document]:
        return await self.annotations.find({"item_id": item_id}).sort("created_at", 1).to_list(None)
