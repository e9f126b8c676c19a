"""The item repository's contract, against the in-memory twin and SecantusDB."""

from __future__ import annotations

import pytest

from labelmesh.inference.adapters.repository import MongoItemRepository
from labelmesh.inference.ports import ItemRepository
from labelmesh.inference.records import StoredItem
from labelmesh.testing.backends import Backend
from labelmesh.testing.twins.inference import InMemoryItemRepository
from labelmesh.v1.events_pb2 import DataType, ItemIngested


def repository(backend: Backend) -> ItemRepository:
    return backend.pick(InMemoryItemRepository, MongoItemRepository)


def text(body: str) -> ItemIngested:
    return ItemIngested(data_type=DataType.DATA_TYPE_TEXT, text=body, content_type="text/plain")


async def test_items_round_trip_and_are_found_only_in_their_project(backend: Backend) -> None:
    items = repository(backend)
    image = ItemIngested(
        data_type=DataType.DATA_TYPE_IMAGE, media_key="media/i2", content_type="image/png"
    )
    async with backend.uow.begin() as tx:
        await items.save(
            tx, [StoredItem("i1", "p1", text("a headline")), StoredItem("i2", "p1", image)]
        )
        await items.save(tx, [StoredItem("i3", "p2", text("elsewhere"))])
    found = await items.get("p1", ["i1", "i2", "i3", "missing"])
    assert found == {"i1": text("a headline"), "i2": image}
    assert await items.get("p2", ["i1"]) == {}
    assert await items.get("p1", []) == {}


async def test_saving_an_item_again_replaces_it(backend: Backend) -> None:
    items = repository(backend)
    async with backend.uow.begin() as tx:
        await items.save(tx, [StoredItem("i1", "p1", text("first"))])
    async with backend.uow.begin() as tx:
        await items.save(tx, [StoredItem("i1", "p2", text("second"))])
    assert await items.get("p1", ["i1"]) == {}
    assert await items.get("p2", ["i1"]) == {"i1": text("second")}


async def test_a_rolled_back_save_leaves_nothing(backend: Backend) -> None:
    items = repository(backend)
    with pytest.raises(RuntimeError):
        async with backend.uow.begin() as tx:
            await items.save(tx, [StoredItem("i1", "p1", text("lost"))])
            raise RuntimeError("after writing")
    assert await items.get("p1", ["i1"]) == {}


async def test_an_item_saved_twice_in_one_batch_keeps_the_later(backend: Backend) -> None:
    items = repository(backend)
    async with backend.uow.begin() as tx:
        await items.save(
            tx, [StoredItem("i1", "p1", text("first")), StoredItem("i1", "p1", text("second"))]
        )
    assert await items.get("p1", ["i1"]) == {"i1": text("second")}


async def test_an_item_kept_in_a_customers_bucket_keeps_its_media_url(backend: Backend) -> None:
    items = repository(backend)
    by_reference = ItemIngested(
        data_type=DataType.DATA_TYPE_IMAGE,
        media_uri="s3://cust/cat.png",
        media_url="https://cust.s3.example/cat.png?X-Amz-Signature=abc",
    )
    by_reference.media_url_expires_at.FromSeconds(1_900_000_000)
    async with backend.uow.begin() as tx:
        await items.save(tx, [StoredItem("i1", "p1", by_reference)])
    [found] = (await items.get("p1", ["i1"])).values()
    assert found.media_url == by_reference.media_url
    assert found.media_url_expires_at.seconds == 1_900_000_000
    assert found == by_reference
