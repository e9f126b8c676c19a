"""Tasks stored before overlap existed get the fields of an overlap-1 task at
start-up, so that a queue kept on disk keeps working. The scan runs until it
has completed once (a marker records that); replicas running it at the same
time are harmless, as only documents still without `overlap` are touched."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.annotation.ports import AnnotationStores
from labelmesh.annotation.records import Changed, TaskStatus
from labelmesh.annotation.task_events import TaskEvents
from labelmesh.core.mongo import Document
from labelmesh.core.uow import Transaction

BATCH = 500
MARKER = "task-slots"
ASSIGNED, SUBMITTED, COMPLETED = TaskStatus.ASSIGNED, TaskStatus.SUBMITTED, TaskStatus.COMPLETED


def overlap_fields(task: Document) -> dict[str, Any]:
    """The slot fields of a task stored with a single `assignee` and `assigned_at`."""
    status, assignee = task.get("status"), task.get("assignee")
    holders = [assignee] if assignee and status in (ASSIGNED, SUBMITTED, COMPLETED) else []
    taken_at = task.get("assigned_at")
    return {
        "overlap": 1,
        "round": 0,
        "open_slots": 0 if holders else 1,
        "takers": holders,
        "assigned": holders if status == ASSIGNED else [],
        "submitted": holders if status in (SUBMITTED, COMPLETED) else [],
        "assigned_at": (
            [{"annotator": assignee, "at": taken_at}]
            if holders and isinstance(taken_at, datetime)
            else []
        ),
        "dismissed": [],
        "gold": bool(task.get("gold")),
    }


async def upgrade(db: AsyncDatabase[Document]) -> int:
    """Upgrade every task still without slots, once; returns how many were."""
    done = db["migrations"]
    if await done.find_one({"_id": MARKER}):
        return 0
    tasks = db["tasks"]
    unmarked = {"overlap": {"$exists": False}}
    upgraded = 0
    batch: list[UpdateOne] = []
    async for task in tasks.find(unmarked):
        batch.append(UpdateOne({"_id": task["_id"], **unmarked}, {"$set": overlap_fields(task)}))
        if len(batch) == BATCH:
            upgraded += (await tasks.bulk_write(batch, ordered=False)).modified_count
            batch = []
    if batch:
        upgraded += (await tasks.bulk_write(batch, ordered=False)).modified_count
    await done.update_one({"_id": MARKER}, {"$set": {"upgraded": upgraded}}, upsert=True)
    return upgraded


QUEUES_MARKER = "task-queues"


async def place_in_queues(db: AsyncDatabase[Document], stores: AnnotationStores) -> int:
    """Give every task stored before queue lanes its lane, a position if it waits, and
    its count in the queue statistics, once; returns how many tasks were placed."""
    done = db["migrations"]
    if await done.find_one({"_id": QUEUES_MARKER}):
        return 0
    events = TaskEvents(stores.tasks, stores.queue)
    unplaced = db["tasks"].find({"lane": {"$exists": False}}, {"_id": 1, "created_at": 1})
    # Oldest first, so that the queue keeps the order it had.
    ids = [d["_id"] for d in sorted(await unplaced.to_list(None), key=_age)]
    for first in range(0, len(ids), BATCH):
        batch = ids[first : first + BATCH]

        async def place(tx: Transaction, batch: list[str] = batch) -> None:
            tasks = await stores.tasks.by_ids(tx, batch)
            # Counted as new: no statistics existed before.
            placed = [Changed(None, tasks[i], stored=True) for i in batch if i in tasks]
            await events.save(tx, placed)

        await stores.uow.run(place)
    await done.update_one({"_id": QUEUES_MARKER}, {"$set": {"placed": len(ids)}}, upsert=True)
    return len(ids)


def _age(document: Document) -> datetime:
    return document.get("created_at") or datetime.max.replace(tzinfo=UTC)
