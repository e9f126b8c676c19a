"""The item repository contract, against the in-memory twin and SecantusDB."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from labelmesh.core.errors import Conflict
from labelmesh.ingest.adapters.repository import MongoItemRepository
from labelmesh.ingest.ports import ItemRepository
from labelmesh.ingest.records import StoredItem
from labelmesh.testing.backends import Backend
from labelmesh.testing.twins.ingest import InMemoryItemRepository
from labelmesh.v1.events_pb2 import DataType

AT = datetime(2026, 11, 30, 12, 0, 0, 123000, tzinfo=UTC)


async def items_of(backend: Backend) -> ItemRepository:
    repository = backend.pick(InMemoryItemRepository, MongoItemRepository)
    if isinstance(repository, MongoItemRepository):
        await repository.ensure_indexes()
    return repository


def item(item_id: str, sha: str, project: str = "p") -> StoredItem:
    return StoredItem(
        item_id=item_id,
        project_id=project,
        data_type=DataType.DATA_TYPE_IMAGE,
        content_type="image/png",
        sha256=sha,
        size_bytes=42,
        media_key=f"projects/{project}/items/{item_id}/{sha}",
        created_at=AT,
        filename="cat.png",
        metadata={"source": "camera 2"},
    )


async def test_a_stored_item_reads_back_field_for_field(backend: Backend) -> None:
    items = await items_of(backend)
    async with backend.uow.begin() as tx:
        await items.insert(tx, [item("i1", "aa")])
    assert await items.get("i1") == item("i1", "aa")
    assert await items.get("missing") is None


async def test_hashes_are_looked_up_within_one_project(backend: Backend) -> None:
    items = await items_of(backend)
    async with backend.uow.begin() as tx:
        await items.insert(tx, [item("i1", "aa"), item("i2", "bb"), item("o1", "aa", "other")])
    assert await items.ids_by_hash("p", ["aa", "bb", "cc"]) == {"aa": "i1", "bb": "i2"}
    assert await items.ids_by_hash("other", ["aa", "bb"]) == {"aa": "o1"}
    assert await items.ids_by_hash("p", []) == {}


async def test_the_same_content_twice_in_a_project_is_a_conflict_and_writes_nothing(
    backend: Backend,
) -> None:
    items = await items_of(backend)
    async with backend.uow.begin() as tx:
        await items.insert(tx, [item("i1", "aa")])
    with pytest.raises(Conflict, match="uploaded concurrently"):
        async with backend.uow.begin() as tx:
            await items.insert(tx, [item("i2", "bb"), item("i3", "aa")])
    assert await items.get("i2") is None
    assert await items.ids_by_hash("p", ["aa", "bb"]) == {"aa": "i1"}
