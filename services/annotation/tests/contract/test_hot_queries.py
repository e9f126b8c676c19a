"""Every query annotation makes on a request or event hot path reads the same
few documents whether the database holds 1,000 tasks or 20,000 (SecantusDB's
own explain counts them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.annotation.adapters.documents import task_document
from labelmesh.annotation.adapters.projects import MongoProjectRepository
from labelmesh.annotation.adapters.tasks import SHARDS, MongoTaskStore
from labelmesh.annotation.claiming import WINDOW
from labelmesh.annotation.domain import DEFAULT_PAGE
from labelmesh.annotation.records import Lane, Task, TaskStatus
from labelmesh.core.mongo import Document, connect
from labelmesh.testing.hot_queries import Examined, examined, growth

pytestmark = pytest.mark.integration

# The project under test holds every tenth task; nine other projects hold the rest.
PROJECTS = 10
AT = datetime(2026, 1, 1, tzinfo=UTC)


def task(n: int) -> Document:
    return task_document(
        Task(
            task_id=f"t{n}",
            item_id=f"i{n}",
            project_id=f"p{n % PROJECTS}",
            status=TaskStatus.OPEN,
            created_at=AT,
            item_ready=True,
            position=n // PROJECTS,
            # Every annotator holds one task of each project, whatever the size.
            assigned=(f"ann{n}",) if n < PROJECTS * 5 else (),
        )
    )


def counter(n: int) -> Document:
    return {"_id": f"p{n // SHARDS}:{n % SHARDS}", "open": 1}


def lane(n: int) -> Document:
    return {"_id": f"p{n // 2}:{Lane.REGULAR}:{('next', 'head')[n % 2]}", "value": n}


def progress(n: int) -> Document:
    return {"_id": f"p{n % PROJECTS}:ann{n}", "annotator": f"ann{n}", "tasks_taken": 1}


def project(n: int) -> Document:
    # Ten organisations, each listing its projects 0, 1, 2...
    return {"_id": f"p{n}", "spec": b"", "organization_id": f"o{n % 10}", "position": n // 10}


HOT_QUERIES = {
    "a task by id (get, submit, suggestion verdicts)": ("tasks", {"_id": "t500"}),
    "tasks by id (a group of hand-ins)": ("tasks", {"_id": {"$in": ["t10", "t20", "t30"]}}),
    "tasks by item (event changes)": ("tasks", {"item_id": {"$in": ["i10", "i20", "i30"]}}),
    "the tasks an annotator holds (current task)": ("tasks", {"assigned": {"$in": ["ann10"]}}),
    "a claim window": (
        "tasks",
        {
            "project_id": "p0",
            "lane": str(Lane.REGULAR),
            "position": {"$gte": 0, "$lt": WINDOW},
        },
    ),
    "queue statistics": ("queue_counts", {"_id": {"$in": [f"p0:{s}" for s in range(SHARDS)]}}),
    "a lane's next and head": (
        "queue_lanes",
        {"_id": {"$in": [f"p0:{Lane.REGULAR}:next", f"p0:{Lane.REGULAR}:head"]}},
    ),
    "annotators' progress": ("annotator_progress", {"_id": {"$in": ["p0:ann10", "p0:ann20"]}}),
    "a project": ("projects", {"_id": "p0"}),
    "a page of an organisation's projects": (
        "projects",
        {"organization_id": "o3", "position": {"$gte": 50, "$lt": 50 + DEFAULT_PAGE}},
    ),
    "the projects a member holds roles in": ("projects", {"_id": {"$in": ["p1", "p22"]}}),
}


@pytest.fixture
async def db(mongo_uri: str, unique_name: str) -> AsyncIterator[AsyncDatabase[Document]]:
    client = connect(mongo_uri)
    database = client[unique_name]
    await MongoTaskStore(database).ensure_indexes()
    await MongoProjectRepository(database).ensure_indexes()
    yield database
    await client.drop_database(unique_name)
    await client.close()


async def test_hot_queries_read_only_what_they_return(db: AsyncDatabase[Document]) -> None:
    async def measure() -> dict[str, Examined]:
        return {
            name: await examined(db[collection], query)
            for name, (collection, query) in HOT_QUERIES.items()
        }

    small, large = await growth(
        [
            (db["tasks"], task),
            (db["queue_counts"], counter),
            (db["queue_lanes"], lane),
            (db["annotator_progress"], progress),
            (db["projects"], project),
        ],
        measure,
    )
    grew = {name: (small[name], large[name]) for name in HOT_QUERIES if large[name] != small[name]}
    assert grew == {}
    assert all(0 < e.docs <= WINDOW for e in large.values()), large
