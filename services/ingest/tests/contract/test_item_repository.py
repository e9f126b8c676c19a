"""The item repository contract, against the in-memory twin and SecantusDB."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.errors import Conflict
from labelmesh.core.mongo import Document, connect
from labelmesh.ingest.adapters.repository import MongoItemRepository
from labelmesh.ingest.domain import item_id_for
from labelmesh.ingest.ports import ItemRepository
from labelmesh.ingest.records import StoredItem
from labelmesh.testing.backends import Backend
from labelmesh.testing.memory import MemoryState
from labelmesh.testing.twins.ingest import InMemoryItemRepository
from labelmesh.v1.events_pb2 import DataType

AT = datetime(2026, 11, 30, 12, 0, 0, 123000, tzinfo=UTC)


def items_of(backend: Backend) -> ItemRepository:
    def twin(state: MemoryState) -> ItemRepository:
        return InMemoryItemRepository(state)

    def mongo(db: AsyncDatabase[Document]) -> ItemRepository:
        return MongoItemRepository(db)

    return backend.pick(twin, mongo)


def image(sha: str, project: str = "p") -> StoredItem:
    item_id = item_id_for(project, sha)
    return StoredItem(
        item_id=item_id,
        project_id=project,
        data_type=DataType.DATA_TYPE_IMAGE,
        content_type="image/png",
        sha256=sha,
        size_bytes=42,
        media_key=f"projects/{project}/items/{item_id}/u1/{sha}",
        created_at=AT,
        filename="cat.png",
        metadata={"source": "camera 2"},
        width=640,
        height=480,
        source="url",
        source_uri="https://media.example/cat.png",
    )


def text(sha: str, words: str) -> StoredItem:
    return StoredItem(
        item_id=item_id_for("p", sha),
        project_id="p",
        data_type=DataType.DATA_TYPE_TEXT,
        content_type="text/plain; charset=utf-8",
        sha256=sha,
        size_bytes=len(words.encode()),
        media_key="",
        created_at=AT,
        text=words,
    )


async def test_a_stored_item_reads_back_field_for_field(backend: Backend) -> None:
    items = items_of(backend)
    async with backend.uow.begin() as tx:
        await items.insert(tx, [image("aa"), text("bb", "a short note")])
    assert await items.get(item_id_for("p", "aa")) == image("aa")
    assert await items.get(item_id_for("p", "bb")) == text("bb", "a short note")
    assert await items.get("missing") is None


async def test_hashes_are_looked_up_within_one_project(backend: Backend) -> None:
    items = items_of(backend)
    async with backend.uow.begin() as tx:
        await items.insert(tx, [image("aa"), image("bb"), image("aa", "other")])
    assert await items.ids_by_hash("p", ["aa", "bb", "cc"]) == {
        "aa": item_id_for("p", "aa"),
        "bb": item_id_for("p", "bb"),
    }
    assert await items.ids_by_hash("other", ["aa", "bb"]) == {"aa": item_id_for("other", "aa")}
    assert await items.ids_by_hash("p", []) == {}


async def test_the_same_content_twice_in_a_project_is_a_conflict_and_writes_nothing(
    backend: Backend,
) -> None:
    items = items_of(backend)
    async with backend.uow.begin() as tx:
        await items.insert(tx, [image("aa")])
    with pytest.raises(Conflict, match="uploaded concurrently"):
        async with backend.uow.begin() as tx:
            await items.insert(tx, [image("bb"), image("aa")])
    assert await items.get(item_id_for("p", "bb")) is None
    assert await items.ids_by_hash("p", ["aa", "bb"]) == {"aa": item_id_for("p", "aa")}


@pytest.mark.integration
async def test_the_index_of_the_earlier_id_scheme_is_dropped(
    mongo_uri: str, unique_name: str
) -> None:
    client = connect(mongo_uri)
    try:
        items = MongoItemRepository(client[unique_name])
        await items.items.create_index([("project_id", 1), ("sha256", 1)], unique=True)
        await items.ensure_indexes()
        await items.ensure_indexes()
        assert list(await items.items.index_information()) == ["_id_"]
    finally:
        await client.close()
