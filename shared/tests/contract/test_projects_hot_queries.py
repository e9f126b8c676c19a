"""A service's project lookup stays a point lookup as its project directory grows.

The directory's own lookup runs, its find command is recorded, and SecantusDB
explains it at 1,000 and at 20,000 projects: the documents examined must not
grow with the collection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document
from labelmesh.core.projects import MongoProjectDirectory
from labelmesh.testing.hot_queries import LARGE, SMALL, Examined, SentCommands, examined, seed
from labelmesh.v1.events_pb2 import ProjectSpec

pytestmark = pytest.mark.integration


@dataclass
class Directory:
    db: AsyncDatabase[Document]
    projects: MongoProjectDirectory
    finds: SentCommands


@pytest.fixture
async def directory(mongo_uri: str, unique_name: str) -> AsyncIterator[Directory]:
    finds = SentCommands()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        mongo_uri, tz_aware=True, event_listeners=[finds]
    )
    db = client[unique_name]
    try:
        yield Directory(db, MongoProjectDirectory(db), finds)
    finally:
        await client.drop_database(unique_name)
        await client.close()


def stored_project(i: int) -> Document:
    spec = ProjectSpec(project_id=f"project-{i}", name=f"project {i}", classes=["a", "b"])
    return {"_id": spec.project_id, "spec": spec.SerializeToString()}


async def lookup(directory: Directory, project_id: str) -> tuple[ProjectSpec | None, Examined]:
    """The project, and what the server read to find it."""
    directory.finds.sent.clear()
    found = await directory.projects.get(project_id)
    [find] = directory.finds.named("find")
    return found, await examined(
        directory.db[find["find"]], find["filter"], limit=find.get("limit", 0)
    )


async def test_a_project_lookup_reads_one_document_however_many_projects(
    directory: Directory,
) -> None:
    collection = directory.projects.collection
    await seed(collection, stored_project, 0, SMALL)
    found, small = await lookup(directory, "project-7")
    await seed(collection, stored_project, SMALL, LARGE)
    found_later, large = await lookup(directory, "project-7")
    assert found == found_later and found is not None and found.name == "project 7"
    assert (small.docs, large.docs) == (1, 1)


async def test_an_unknown_project_reads_nothing(directory: Directory) -> None:
    await seed(directory.projects.collection, stored_project, 0, SMALL)
    found, read = await lookup(directory, "project-never-created")
    assert found is None
    assert read.docs == 0
