"""Projects stored before they could be listed are placed in their
organisation's list at start-up, oldest first, once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.annotation.adapters.legacy_projects import place_in_lists
from labelmesh.annotation.adapters.projects import MongoProjectRepository
from labelmesh.core.mongo import Document, MongoUnitOfWork, connect
from labelmesh.core.topics import Topics
from labelmesh.v1.events_pb2 import ProjectSpec

pytestmark = pytest.mark.integration
AT = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def db(mongo_uri: str, unique_name: str) -> AsyncIterator[AsyncDatabase[Document]]:
    client = connect(mongo_uri)
    yield client[unique_name]
    await client.drop_database(unique_name)
    await client.close()


def legacy(project_id: str, organization: str, age_days: int) -> Document:
    spec = ProjectSpec(project_id=project_id, name=project_id, organization_id=organization)
    return {
        "_id": project_id,
        "spec": spec.SerializeToString(),
        "created_at": AT - timedelta(days=age_days),
    }


async def test_legacy_projects_are_listed_oldest_first_then_new_ones_after_them(
    db: AsyncDatabase[Document], unique_name: str
) -> None:
    await db["projects"].insert_many(
        [legacy("young", "", 1), legacy("old", "", 9), legacy("acme-1", "acme", 3)]
    )
    uow = MongoUnitOfWork(db.client, db, Topics(unique_name))
    repository = MongoProjectRepository(db)
    await repository.ensure_indexes()
    assert await place_in_lists(db, uow) == 3
    assert await place_in_lists(db, uow) == 0
    async with uow.begin() as tx:
        await repository.insert(tx, ProjectSpec(project_id="new", name="new"))
    listed = await repository.window("default", 0, 10)
    assert [(p.position, p.project.project_id) for p in listed] == [
        (2, "new"),
        (1, "young"),
        (0, "old"),
    ]
    assert [p.project.project_id for p in await repository.window("acme", 0, 10)] == ["acme-1"]
