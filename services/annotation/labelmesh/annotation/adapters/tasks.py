"""Tasks as events change them, in MongoDB: one document per item.

How each change is written is in `task_updates`; how people take and submit
tasks, in `task_queue`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.annotation.adapters.documents import task_from_document
from labelmesh.annotation.adapters.task_updates import reopen_filter, reopen_pipeline, update_of
from labelmesh.annotation.records import Task, TaskChange
from labelmesh.core.mongo import Document, session_of
from labelmesh.core.uow import Transaction


class MongoTaskRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.tasks = db["tasks"]

    async def ensure_indexes(self) -> None:
        await self.tasks.create_index("item_id", unique=True)
        await self.tasks.create_index(
            [("project_id", ASCENDING), ("status", ASCENDING), ("created_at", ASCENDING)]
        )

    async def apply(self, tx: Transaction, changes: Sequence[TaskChange]) -> None:
        if changes:
            await self.tasks.bulk_write(
                [update_of(change) for change in changes], ordered=True, session=session_of(tx)
            )

    async def reopen(self, tx: Transaction, task_id: str, round_: int) -> bool:
        result = await self.tasks.update_one(
            reopen_filter(task_id, round_), reopen_pipeline(), session=session_of(tx)
        )
        return result.modified_count == 1

    async def task_ids(self, tx: Transaction, item_ids: Sequence[str]) -> dict[str, str]:
        cursor = self.tasks.find(
            {"item_id": {"$in": list(item_ids)}}, {"item_id": 1}, session=session_of(tx)
        )
        return {d["item_id"]: d["_id"] async for d in cursor}

    async def get(self, task_id: str) -> Task | None:
        document = await self.tasks.find_one({"_id": task_id})
        return task_from_document(document) if document else None
