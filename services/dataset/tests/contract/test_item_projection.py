"""The item projection contract, against the in-memory twin and SecantusDB."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document
from labelmesh.dataset.adapters.repository import MongoItemProjection
from labelmesh.dataset.domain import order_key
from labelmesh.dataset.ports import ItemProjection
from labelmesh.dataset.records import (
    Acceptance,
    AnnotationTrace,
    BrowseStatus,
    ItemStatus,
    ProjectedItem,
)
from labelmesh.testing.backends import Backend
from labelmesh.testing.memory import MemoryState
from labelmesh.testing.twins.dataset import InMemoryItemProjection, box

# MongoDB keeps times to the millisecond.
AT = datetime(2026, 12, 1, 9, 30, 0, 125000, tzinfo=UTC)


async def projection_of(backend: Backend) -> ItemProjection:
    def twin(state: MemoryState) -> ItemProjection:
        return InMemoryItemProjection(state)

    def mongo(db: AsyncDatabase[Document]) -> ItemProjection:
        return MongoItemProjection(db)

    projection = backend.pick(twin, mongo)
    if isinstance(projection, MongoItemProjection):
        await projection.ensure_indexes()
    return projection


def accepted(item_id: str, project: str = "p1") -> ProjectedItem:
    return ProjectedItem(
        item_id=item_id,
        project_id=project,
        data_type=2,
        media_key=f"projects/{project}/items/{item_id}",
        sha256="abc",
        content_type="image/png",
        filename="cat.png",
        metadata={"site": "berlin"},
        annotations={
            "a1": AnnotationTrace(
                "a1", annotator="ann", round=1, reviewers=("r1", "r2"), classes=("cat", "dog")
            ),
            "m1": AnnotationTrace("m1", model_id="yolo", model_version="8", rule_version=3),
        },
        acceptance=Acceptance(
            annotation_id="a1",
            labels=(box("cat").SerializeToString(), box("dog").SerializeToString()),
            source=1,
            policy_version=2,
            accepted_at=AT,
            event_id="e1",
            adjudicator="expert",
        ),
        status=ItemStatus.IN_REREVIEW,
        flagged_at=AT,
        source="url",
        source_uri="https://example.org/cat.png",
        created_at=AT,
        seq=7,
        media_uri="s3://photos/cat.png",
    )


async def test_an_item_reads_back_field_for_field_within_its_transaction(
    backend: Backend,
) -> None:
    items = await projection_of(backend)
    bare = ProjectedItem("i2", "p1")
    async with backend.uow.begin() as tx:
        await items.put_many(tx, [accepted("i1"), bare])
        assert await items.get_many(tx, ["i1", "i2", "missing"]) == {
            "i1": accepted("i1"),
            "i2": bare,
        }
    async with backend.uow.begin() as tx:
        assert await items.get_many(tx, ["i1"]) == {"i1": accepted("i1")}


async def test_a_rolled_back_write_is_not_kept(backend: Backend) -> None:
    items = await projection_of(backend)
    try:
        async with backend.uow.begin() as tx:
            await items.put_many(tx, [accepted("i1")])
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    async with backend.uow.begin() as tx:
        assert await items.get_many(tx, ["i1"]) == {}


async def test_accepted_items_of_a_project_come_in_version_order_in_batches(
    backend: Backend,
) -> None:
    items = await projection_of(backend)
    ids = [f"item-{n:03d}" for n in range(25)]
    async with backend.uow.begin() as tx:
        await items.put_many(tx, [accepted(i) for i in ids])
        await items.put_many(tx, [ProjectedItem("unlabelled", "p1"), accepted("x", "p2")])
    batches = [batch async for batch in items.accepted("p1", 10)]
    assert [len(b) for b in batches] == [10, 10, 5]
    assert [i.item_id for b in batches for i in b] == sorted(ids, key=order_key)


async def test_places_are_reserved_per_project_and_rolled_back_with_their_transaction(
    backend: Backend,
) -> None:
    items = await projection_of(backend)
    assert await items.extent("p1") == 1
    async with backend.uow.begin() as tx:
        assert await items.place(tx, "p1", 3) == 1
        assert await items.place(tx, "p1", 2) == 4
        assert await items.place(tx, "p2", 1) == 1
    try:
        async with backend.uow.begin() as tx:
            await items.place(tx, "p1", 10)
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    assert await items.extent("p1") == 6 and await items.extent("p2") == 2


async def test_browsing_finds_a_facets_items_within_a_span_of_places(backend: Backend) -> None:
    items = await projection_of(backend)
    placed = [
        replace(accepted(f"i{n}"), seq=n, filename=f"{'cat' if n % 2 else 'dog'}.png")
        for n in range(1, 11)
    ]
    async with backend.uow.begin() as tx:
        await items.put_many(tx, [*placed, replace(accepted("x1", "p2"), seq=3)])
    found = await items.browse("p1", "term:cat", 3, 8)
    assert sorted(i.seq for i in found) == [3, 5, 7]
    summary = next(i for i in found if i.seq == 3)
    assert (summary.item_id, summary.filename, summary.source) == ("i3", "cat.png", "url")
    assert summary.source_uri == "https://example.org/cat.png" and summary.created_at == AT
    assert summary.status is BrowseStatus.IN_REREVIEW and summary.classes == ("cat", "dog")
    assert summary.annotators == ("ann",) and summary.metadata == {"site": "berlin"}
    assert {"class:cat", "annotator:ann", "meta:site=berlin", "source:url"} <= summary.facets
    assert [i.item_id for i in await items.browse("p2", "all", 1, 100)] == ["x1"]


async def test_a_deleted_item_is_kept_but_neither_browsed_nor_taken_by_versions(
    backend: Backend,
) -> None:
    items = await projection_of(backend)
    gone = replace(accepted("gone"), seq=1, deleted_at=AT)
    async with backend.uow.begin() as tx:
        await items.put_many(tx, [gone, replace(accepted("kept"), seq=2)])
        assert await items.get_many(tx, ["gone"]) == {"gone": gone}

    versioned = [i.item_id async for batch in items.accepted("p1", 10) for i in batch]
    assert versioned == ["kept"]
    assert [i.item_id for i in await items.browse("p1", "all", 1, 10)] == ["kept"]
    assert [i.item_id for i in await items.browse("p1", "class:cat", 1, 10)] == ["kept"]
