"""The item projection contract, against the in-memory twin and SecantusDB."""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document
from labelmesh.dataset.adapters.repository import MongoItemProjection
from labelmesh.dataset.domain import order_key
from labelmesh.dataset.ports import ItemProjection
from labelmesh.dataset.records import Acceptance, AnnotationTrace, ItemStatus, ProjectedItem
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
            "a1": AnnotationTrace("a1", annotator="ann", round=1, reviewers=("r1", "r2")),
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
