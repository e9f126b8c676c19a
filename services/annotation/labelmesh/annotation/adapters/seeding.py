"""Open tasks written straight into the database, in bulk, for benchmarks that
need a project of a given size without sending every item through the whole
path. The tasks are stored exactly as the service stores them, and the
project's lane and statistics move with them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.annotation.adapters.documents import task_document
from labelmesh.annotation.records import Lane, Task, TaskStatus
from labelmesh.core.mongo import Document
from labelmesh.v1.events_pb2 import DataType

BATCH = 5_000


async def seed_open_tasks(
    db: AsyncDatabase[Document],
    project_id: str,
    count: int,
    on_progress: Callable[[int], None] = lambda _: None,
) -> None:
    """Queue `count` ready text tasks at the back of the project's regular lane;
    `on_progress` hears how many are written after each batch."""
    lanes = db["queue_lanes"]
    next_id = f"{project_id}:{Lane.REGULAR}:next"
    found = await lanes.find_one({"_id": next_id})
    first = int(found["value"]) if found else 0
    created = datetime.now(UTC)
    written = 0
    while written < count:
        size = min(BATCH, count - written)
        batch = [
            task_document(
                Task(
                    task_id=str(uuid.uuid4()),
                    item_id=f"seed-{project_id}-{first + written + n}",
                    project_id=project_id,
                    status=TaskStatus.OPEN,
                    created_at=created,
                    item_ready=True,
                    data_type=DataType.DATA_TYPE_TEXT,
                    text=f"seeded item {first + written + n}",
                    position=first + written + n,
                )
            )
            for n in range(size)
        ]
        await db["tasks"].insert_many(batch, ordered=False)
        written += size
        on_progress(written)
    await lanes.update_one({"_id": next_id}, {"$inc": {"value": count}}, upsert=True)
    await db["queue_counts"].update_one(
        {"_id": f"{project_id}:0"},
        {"$inc": {str(TaskStatus.OPEN): count}, "$setOnInsert": {"project_id": project_id}},
        upsert=True,
    )
