"""Tasks in MongoDB, one document per item, and the queue statistics they move.

Every query here is answered by an index: by `_id`, by `item_id`, by holder
(`assigned`) or by a bounded range of queue positions (`project_id`, `lane`,
`position`). Statistics are counters moved by each write, spread over a few
documents per project so that concurrent writers rarely touch the same one.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

from pymongo import ASCENDING, InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.annotation.adapters.conflicts import created_meanwhile_is_a_conflict
from labelmesh.annotation.adapters.documents import task_document, task_from_document
from labelmesh.annotation.queue import STATUSES
from labelmesh.annotation.records import GOLD, Changed, Lane, Task
from labelmesh.core.mongo import Document, find_in, session_of
from labelmesh.core.uow import Transaction

# Counter documents per project. Every transaction that moves tasks moves one of
# them, picked at random: with claims, hand-ins and event handlers writing at
# once, two of them pick the same document (a write conflict, and one runs
# again) about once in SHARDS; more documents cost little on read.
SHARDS = 32
# Indexes of earlier versions that no query uses any more.
RETIRED_INDEXES = ("project_id_1_status_1_created_at_1", "gold_by_age")


def counted_as(task: Task) -> str:
    """The statistic a task counts under: gold apart, regular tasks by status."""
    return GOLD if task.gold else str(task.status)


def moves(changes: Sequence[Changed]) -> dict[str, Counter[str]]:
    """Per project, how each statistic changes when the changes are stored."""
    moved: dict[str, Counter[str]] = {}
    for change in changes:
        if change.before is not None:
            moved.setdefault(change.before.project_id, Counter())[counted_as(change.before)] -= 1
        moved.setdefault(change.after.project_id, Counter())[counted_as(change.after)] += 1
    nonzero = {project: {k: n for k, n in delta.items() if n} for project, delta in moved.items()}
    return {project: Counter(delta) for project, delta in nonzero.items() if delta}


class MongoTaskStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.tasks = db["tasks"]
        self.counts = db["queue_counts"]

    async def ensure_indexes(self) -> None:
        await self.tasks.create_index("item_id", unique=True)
        await self.tasks.create_index("assigned")
        await self.tasks.create_index(
            [("project_id", ASCENDING), ("lane", ASCENDING), ("position", ASCENDING)],
            name="queue",
        )
        existing = await self.tasks.index_information()
        for name in RETIRED_INDEXES:
            if name in existing:
                await self.tasks.drop_index(name)

    async def get(self, task_id: str) -> Task | None:
        document = await self.tasks.find_one({"_id": task_id})
        return task_from_document(document) if document else None

    async def by_ids(self, tx: Transaction, task_ids: Sequence[str]) -> dict[str, Task]:
        found = await find_in(self.tasks, "_id", task_ids, session_of(tx))
        return {d["_id"]: task_from_document(d) for d in found}

    async def by_items(self, tx: Transaction, item_ids: Sequence[str]) -> dict[str, Task]:
        found = await find_in(self.tasks, "item_id", item_ids, session_of(tx))
        return {d["item_id"]: task_from_document(d) for d in found}

    async def held_by(self, annotators: Sequence[str], tx: Transaction | None = None) -> list[Task]:
        session = session_of(tx) if tx is not None else None
        found = await find_in(self.tasks, "assigned", annotators, session)
        # A task held by two of them is found twice.
        unique = {d["_id"]: d for d in found}
        return [task_from_document(d) for d in unique.values()]

    async def window(
        self, tx: Transaction, project_id: str, lane: Lane, start: int, stop: int
    ) -> list[Task]:
        found = self.tasks.find(
            {"project_id": project_id, "lane": str(lane), "position": {"$gte": start, "$lt": stop}},
            session=session_of(tx),
        )
        return sorted([task_from_document(d) async for d in found], key=lambda t: t.position)

    async def save(self, tx: Transaction, changes: Sequence[Changed]) -> None:
        if not changes:
            return
        session = session_of(tx)
        # On SecantusDB inserting a task costs half of upserting it.
        writes: list[InsertOne[Document] | ReplaceOne[Document]] = [
            InsertOne(task_document(c.after))
            if c.inserted
            else ReplaceOne({"_id": c.after.task_id}, task_document(c.after), upsert=True)
            for c in changes
        ]
        with created_meanwhile_is_a_conflict("a task of the same item"):
            await self.tasks.bulk_write(writes, ordered=True, session=session)
        counted = moves(changes)
        if counted:
            shard = random.randrange(SHARDS)
            with created_meanwhile_is_a_conflict("a queue counter"):
                await self.counts.bulk_write(
                    [
                        UpdateOne(
                            {"_id": f"{project}:{shard}"},
                            {"$inc": dict(delta), "$setOnInsert": {"project_id": project}},
                            upsert=True,
                        )
                        for project, delta in counted.items()
                    ],
                    session=session,
                )

    async def stats(self, project_id: str) -> dict[str, int]:
        counts = {str(status): 0 for status in (*STATUSES, GOLD)}
        shards = [f"{project_id}:{shard}" for shard in range(SHARDS)]
        async for document in self.counts.find({"_id": {"$in": shards}}):
            for key in counts:
                counts[key] += int(document.get(key, 0))
        return counts
