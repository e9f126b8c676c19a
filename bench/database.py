"""What the database itself does on this machine, with nothing else running:
the cost of each kind of write the labelling path makes, on documents shaped
like annotation's tasks (as `seed_open_tasks` stores them).

The services write about twenty documents per claim + submit (tasks, progress
and counters; review's state, decision and score; audit's entries and chain
heads; each consumer's processed-event markers), so these figures bound what
the whole stack can reach: a claim + submit cannot cost the database less than
its writes do.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

from pymongo import ASCENDING, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.mongo_client import AsyncMongoClient
from rich.console import Console
from rich.table import Table

from labelmesh.annotation.adapters.seeding import seed_open_tasks
from labelmesh.core.mongo import Document, connect
from labelmesh.devstack.infra import running_infrastructure

TASKS = 3_000
# Documents per transaction, about what a claim group or a consumer's fetch writes.
PER_TRANSACTION = 10
# The secondary indexes annotation's tasks carry, added one at a time.
TASK_INDEXES: list[list[tuple[str, int]]] = [
    [("item_id", ASCENDING)],
    [("assigned", ASCENDING)],
    [("project_id", ASCENDING), ("lane", ASCENDING), ("position", ASCENDING)],
]


@dataclass(frozen=True)
class Cost:
    operation: str
    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    @property
    def milliseconds_each(self) -> float:
        return 1000 * self.seconds / self.count


def bench_database() -> list[Cost]:
    """Start a database of its own, measure, print the table; returns the figures."""
    console = Console()
    with (
        console.status("database: measuring inserts, updates, finds and transactions ..."),
        tempfile.TemporaryDirectory(prefix="labelmesh-database-") as tmp,
        running_infrastructure(Path(tmp)) as infra,
    ):
        costs = asyncio.run(_measure(infra.mongo_uri))
    console.print(table(costs))
    return costs


async def _measure(mongo_uri: str) -> list[Cost]:
    client = connect(mongo_uri)
    costs: list[Cost] = []
    try:
        for indexes in range(len(TASK_INDEXES) + 1):
            db = client[f"bench_database_{indexes}"]
            tasks = db["tasks"]
            for keys in TASK_INDEXES[:indexes]:
                await tasks.create_index(keys)
            inserted = await _timed(seed_open_tasks(db, "bench", TASKS))
            costs.append(Cost(f"insert in bulk, {_indexes(indexes)}", TASKS, inserted))
            documents = await tasks.find().to_list(None)
            updated = await _timed(_update_all(client, tasks, documents))
            costs.append(Cost(f"update by _id, {_indexes(indexes)}", TASKS, updated))
        tasks = client["bench_database_0"]["tasks"]
        ids = [document["_id"] for document in await tasks.find({}, {"_id": 1}).to_list(None)]
        found = await _timed(_find_each(tasks, ids))
        costs.append(Cost("find one by _id", len(ids), found))
        counters = client["bench_database_0"]["counters"]
        committed = await _timed(_one_upsert_transactions(client, counters, ids))
        costs.append(Cost("transaction of one upsert", len(ids), committed))
    finally:
        await client.close()
    return costs


async def _timed(work: Awaitable[object]) -> float:
    """Seconds the work takes (a coroutine runs only once awaited)."""
    started = time.perf_counter()
    await work
    return time.perf_counter() - started


async def _update_all(
    client: AsyncMongoClient[Document], tasks: AsyncCollection[Document], documents: list[Document]
) -> None:
    """Each document taken by an annotator, PER_TRANSACTION to a transaction, one
    after another, as annotation's tasks store writes them (whole documents)."""
    for first in range(0, len(documents), PER_TRANSACTION):
        writes = [
            ReplaceOne({"_id": d["_id"]}, {**d, "assigned": ["a"], "takers": ["a"]})
            for d in documents[first : first + PER_TRANSACTION]
        ]
        async with client.start_session() as session, await session.start_transaction():
            await tasks.bulk_write(writes, session=session)


async def _find_each(tasks: AsyncCollection[Document], ids: list[str]) -> None:
    for task_id in ids:
        await tasks.find_one({"_id": task_id})


async def _one_upsert_transactions(
    client: AsyncMongoClient[Document], counters: AsyncCollection[Document], ids: list[str]
) -> None:
    for key in ids:
        async with client.start_session() as session, await session.start_transaction():
            await counters.update_one(
                {"_id": key}, {"$inc": {"n": 1}}, upsert=True, session=session
            )


def _indexes(count: int) -> str:
    return f"{count} secondary index" + ("" if count == 1 else "es")


def table(costs: list[Cost]) -> Table:
    out = Table(
        title="The database alone (SecantusDB, one caller, this machine)",
        caption=f"{TASKS:,} task documents; updates {PER_TRANSACTION} to a transaction",
    )
    out.add_column("operation")
    out.add_column("per second", justify="right")
    out.add_column("ms each", justify="right")
    for cost in costs:
        out.add_row(cost.operation, f"{cost.per_second:,.0f}", f"{cost.milliseconds_each:.2f}")
    return out
