"""The projection's reads stay on their indexes as the database grows: each
bucket lookup of a version reads only the accepted items it returns, and each
lookup of a listing only the index entries of its facet.

The test captures the queries the adapter really sends, then asks SecantusDB's
explain what each reads, at 1,000 and at 20,000 items of ten projects.
"""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document
from labelmesh.dataset.adapters.repository import (
    ITEMS,
    MongoItemProjection,
    MongoVersionRepository,
    item_document,
)
from labelmesh.dataset.metrics import DatasetMetrics
from labelmesh.dataset.records import Acceptance, AnnotationTrace, ItemStatus, ProjectedItem
from labelmesh.dataset.usecases import Datasets
from labelmesh.testing.hot_queries import Examined, SentCommands, examined, growth
from labelmesh.testing.memory import InMemoryProjectDirectory, InMemoryUnitOfWork, MemoryState
from labelmesh.testing.twins.dataset import T0, box
from labelmesh.v1.dataset_service_pb2 import ListItemsRequest
from labelmesh.v1.events_pb2 import DataType, ProjectSpec

pytestmark = pytest.mark.integration
PROJECTS = 10


def item(n: int) -> Document:
    # In each project every other item is accepted; the rest wait for labels.
    acceptance = Acceptance("a", (b"",), 1, 1, T0, "e") if n // PROJECTS % 2 == 0 else None
    return item_document(ProjectedItem(f"item-{n}", f"p{n % PROJECTS}", acceptance=acceptance))


async def test_a_version_reads_only_the_accepted_items_of_its_project(
    watched_db: AsyncDatabase[Document], sent_commands: SentCommands
) -> None:
    projection = MongoItemProjection(watched_db)
    await projection.ensure_indexes()

    async def measure() -> tuple[int, Examined]:
        sent_commands.sent.clear()
        returned = sum([len(b) async for b in projection.accepted("p0", 1000)])
        finds = sent_commands.named("find")
        each = [await examined(projection.items, find["filter"]) for find in finds]
        return returned, Examined(sum(e.keys for e in each), sum(e.docs for e in each))

    (few, small), (many, large) = await growth([(projection.items, item)], measure)
    assert few == 50 and many == 1000
    assert small == Examined(few, few) and large == Examined(many, many)


STATES: tuple[tuple[ItemStatus | None, dict[str, AnnotationTrace]], ...] = (
    (None, {}),
    (None, {"a1": AnnotationTrace("a1", "alice", classes=("cat",))}),
    (ItemStatus.ACCEPTED, {"a1": AnnotationTrace("a1", "bob", classes=("dog",))}),
)
# Each filter of a listing, alone and combined; each fills its page of PAGE
# from the first hundred items of the project, whatever the project's size.
PAGE = 3
LISTINGS = {
    "none": ListItemsRequest(),
    "status": ListItemsRequest(status="annotated"),
    "class": ListItemsRequest(class_name="dog"),
    "annotator": ListItemsRequest(annotator="alice"),
    "source": ListItemsRequest(source="url"),
    "data_type": ListItemsRequest(data_type=DataType.DATA_TYPE_IMAGE),
    "metadata": ListItemsRequest(metadata=["camera:3"]),
    "q": ListItemsRequest(q="img 4"),
    "combined": ListItemsRequest(status="accepted", source="upload", metadata=["camera:1"]),
}


def listed_item(n: int) -> Document:
    # The n-th item of project p{n % 10}: its place, and its facets cycling with it.
    place = n // PROJECTS + 1
    status, annotations = STATES[place % 3]
    acceptance = (
        Acceptance("a1", (box("dog").SerializeToString(),), 1, 1, T0, "e") if status else None
    )
    return item_document(
        ProjectedItem(
            f"item-{n}",
            f"p{n % PROJECTS}",
            data_type=DataType.DATA_TYPE_IMAGE,
            filename=f"img-{place % 7}.png",
            metadata={"camera": str(place % 5)},
            source=("url", "upload")[place % 2],
            annotations=annotations,
            acceptance=acceptance,
            status=status,
            seq=place,
        )
    )


async def test_each_listing_reads_only_index_entries_of_its_facet_however_many_items(
    watched_db: AsyncDatabase[Document], sent_commands: SentCommands
) -> None:
    projection = MongoItemProjection(watched_db)
    await projection.ensure_indexes()
    state = MemoryState()
    projects = InMemoryProjectDirectory(state)
    async with InMemoryUnitOfWork(state).begin() as tx:
        await projects.save(tx, ProjectSpec(project_id="p0"))
    datasets = Datasets(
        projection,
        MongoVersionRepository(watched_db),
        projects,
        InMemoryUnitOfWork(state),
        DatasetMetrics(CollectorRegistry()),
    )

    async def listing(asked: ListItemsRequest) -> tuple[list[str], Examined, int]:
        request = ListItemsRequest(project_id="p0", page_size=PAGE)
        request.MergeFrom(asked)
        sent_commands.sent.clear()
        page, _ = await datasets.list_items(request)
        finds = [f["filter"] for f in sent_commands.named("find") if f["find"] == ITEMS]
        each = [await examined(projection.items, f) for f in finds]
        returned = sum([len(await projection.items.find(f).to_list(None)) for f in finds])
        read = Examined(sum(e.keys for e in each), sum(e.docs for e in each))
        return [i.item_id for i in page], read, returned

    async def measure() -> dict[str, tuple[list[str], Examined, int]]:
        placed = await projection.items.count_documents({"project_id": "p0"})
        await projection.places.replace_one({"_id": "p0"}, {"last": placed}, upsert=True)
        return {name: await listing(asked) for name, asked in LISTINGS.items()}

    small, large = await growth([(projection.items, listed_item)], measure)
    for name in LISTINGS:
        (few, at_small, returned_small), (many, at_large, returned_large) = small[name], large[name]
        assert len(few) == PAGE and many == few, name
        # Each document read was an index entry of the lead facet, returned to
        # be checked: no scan, and a small share of the project's 2,000 items.
        assert at_small == Examined(returned_small, returned_small), name
        assert at_large == Examined(returned_large, returned_large), name
        assert returned_large <= 100, name
