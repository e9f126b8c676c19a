"""Browsing at size: seed one project's projection with N items of every
status, five classes, twenty annotators, three sources, ten cameras and a few
words of text each, then time a page of 50 for each filter, and for the same
filters a page from the middle of the project (a cursor at item N/2).

Each figure is the median of five requests through the use case on
SecantusDB (no HTTP), with the index lookups the request made. Target: every
page under 100 ms, whatever the filter and the project's size.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from labelmesh.core.mongo import MongoUnitOfWork, connect, ensure_core_indexes
from labelmesh.core.projects import MongoProjectDirectory
from labelmesh.core.topics import Topics
from labelmesh.dataset.adapters.repository import (
    ITEMS,
    MongoItemProjection,
    MongoVersionRepository,
    item_document,
)
from labelmesh.dataset.browsing import Cursor, encode_cursor
from labelmesh.dataset.metrics import DatasetMetrics
from labelmesh.dataset.records import (
    Acceptance,
    AnnotationTrace,
    ItemStatus,
    ItemSummary,
    ProjectedItem,
)
from labelmesh.dataset.usecases import Datasets
from labelmesh.devstack.infra import running_infrastructure
from labelmesh.v1.dataset_service_pb2 import ListItemsRequest
from labelmesh.v1.events_pb2 import CompletionSource, DataType, ProjectSpec
from labelmesh.v1.geometry_pb2 import BoundingBox, Label

ITEMS_DEFAULT = 100_000
PROJECT = "bench-browse"
DATABASE = "bench"
CLASSES = ["cat", "dog", "bird", "car", "person"]
SOURCES = ["upload", "url", "bucket"]
WORDS = ["harbour", "street", "forest", "night", "rain", "crowd", "beach", "snow"]
LOAD_BATCH = 5_000
# A million items and their index entries overflow SecantusDB's default cache of 1G.
DATABASE_CACHE = "8G"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PAGE = 50
RUNS = 5
TARGET_MS = 100.0
FILTERS = {
    "none": ListItemsRequest(),
    "status=accepted": ListItemsRequest(status="accepted"),
    "status=flagged (1%)": ListItemsRequest(status="flagged"),
    "class=dog": ListItemsRequest(class_name="dog"),
    "annotator (1 of 20)": ListItemsRequest(annotator="annotator-7"),
    "source=url": ListItemsRequest(source="url"),
    "data_type=IMAGE": ListItemsRequest(data_type=DataType.DATA_TYPE_IMAGE),
    "metadata camera=3": ListItemsRequest(metadata=["camera:3"]),
    "q=harbour (1 of 8)": ListItemsRequest(q="harbour"),
    "q=rare word (1 in 1,000)": ListItemsRequest(q="lighthouse"),
    "accepted+dog": ListItemsRequest(status="accepted", class_name="dog"),
    "accepted+dog+camera=3": ListItemsRequest(
        status="accepted", class_name="dog", metadata=["camera:3"]
    ),
    "url+annotator+harbour (none)": ListItemsRequest(
        source="url", annotator="annotator-7", q="harbour"
    ),
}

console = Console()


class CountedProjection(MongoItemProjection):
    """The projection, counting the index lookups a listing makes."""

    lookups = 0

    async def browse(self, project_id: str, facet: str, first: int, stop: int) -> list[ItemSummary]:
        self.lookups += 1
        return await super().browse(project_id, facet, first, stop)


def bench_browse(items: int = ITEMS_DEFAULT) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="labelmesh-browse-") as tmp,
        running_infrastructure(Path(tmp), cache_size=DATABASE_CACHE) as infra,
    ):
        seeded, timed = asyncio.run(_seed_and_time(infra.mongo_uri, items))
    console.print(_table(items, seeded, timed))


def _item(n: int) -> ProjectedItem:
    """The n-th item: one status of five in turn (1 in 100 flagged), its
    annotators, classes and metadata cycling at their own pace."""
    item_id = f"item-{n:08d}"
    name = CLASSES[n % len(CLASSES)]
    word = "lighthouse" if n % 1000 == 7 else WORDS[n % len(WORDS)]
    base = ProjectedItem(
        item_id=item_id,
        project_id=PROJECT,
        data_type=DataType.DATA_TYPE_IMAGE,
        media_key=f"projects/{PROJECT}/items/{item_id}/0",
        content_type="image/png",
        filename=f"{word}-{n}.png",
        text="",
        metadata={"camera": str(n // 7 % 10), "site": f"site-{n % 7}"},
        width=64,
        height=48,
        source=SOURCES[n % len(SOURCES)],
        created_at=T0 + timedelta(milliseconds=n),
        seq=n + 1,
    )
    if n % 100 == 50:
        return _annotated(base, n, name, flagged=True)
    stage = n % 3
    if stage == 0:
        return base
    annotated = _annotated(base, n, name, flagged=False)
    if stage == 1:
        return annotated
    box = Label(bounding_box=BoundingBox(label=name, x=1, y=2, width=3, height=4))
    acceptance = Acceptance(
        f"a-{n}", (box.SerializeToString(),), CompletionSource.COMPLETION_SOURCE_HUMAN, 1, T0, "e"
    )
    return replace(annotated, acceptance=acceptance, status=ItemStatus.ACCEPTED)


def _annotated(base: ProjectedItem, n: int, name: str, flagged: bool) -> ProjectedItem:
    trace = AnnotationTrace(f"a-{n}", f"annotator-{n % 20}", classes=(name,))
    return replace(
        base, annotations={trace.annotation_id: trace}, flagged_at=T0 if flagged else None
    )


async def _seed_and_time(
    mongo_uri: str, count: int
) -> tuple[float, dict[str, tuple[float, float, int, int, int]]]:
    client = connect(mongo_uri)
    db = client[DATABASE]
    await ensure_core_indexes(db)
    uow = MongoUnitOfWork(client, db, Topics("bench"))
    projects = MongoProjectDirectory(db)
    async with uow.begin() as tx:
        await projects.save(tx, ProjectSpec(project_id=PROJECT, classes=CLASSES))
    items = CountedProjection(db)
    # Indexes first: SecantusDB fails to build one over a large collection.
    await items.ensure_indexes()
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    started = time.perf_counter()
    with progress:
        bar = progress.add_task("browse: seeding items", total=count)
        for first in range(0, count, LOAD_BATCH):
            batch = [item_document(_item(n)) for n in range(first, min(count, first + LOAD_BATCH))]
            await db[ITEMS].insert_many(batch, ordered=False)
            progress.update(bar, completed=first + len(batch))
    seeded = count / (time.perf_counter() - started)
    await items.places.replace_one({"_id": PROJECT}, {"last": count}, upsert=True)
    datasets = Datasets(
        items, MongoVersionRepository(db), projects, uow, DatasetMetrics(CollectorRegistry())
    )
    timed = {}
    with console.status(f"browse: timing a page of each filter over {count:,} items ..."):
        for name, asked in FILTERS.items():
            first_page = await _time(datasets, items, asked, "")
            middle = await _time(datasets, items, asked, encode_cursor(Cursor(count // 2)))
            timed[name] = (first_page[0], middle[0], first_page[1], middle[1], first_page[2])
    await client.close()
    return seeded, timed


async def _time(
    datasets: Datasets, items: CountedProjection, asked: ListItemsRequest, token: str
) -> tuple[float, int, int]:
    """Median milliseconds of a page, its lookups, and the items it held."""
    request = ListItemsRequest(project_id=PROJECT, page_size=PAGE, page_token=token)
    request.MergeFrom(asked)
    seconds = []
    for _ in range(RUNS):
        items.lookups = 0
        started = time.perf_counter()
        page, _ = await datasets.list_items(request)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds) * 1000, items.lookups, len(page)


def _table(
    count: int, seeded: float, timed: dict[str, tuple[float, float, int, int, int]]
) -> Table:
    table = Table(title=f"browse: pages of {PAGE} over {count:,} items ({seeded:,.0f} seeded/s)")
    for column in ("filter", "first page", "middle page", "lookups", "items", "met"):
        table.add_column(column, justify="left" if column == "filter" else "right")
    for name, (first_ms, middle_ms, lookups, middle_lookups, held) in timed.items():
        table.add_row(
            name,
            f"{first_ms:,.1f} ms",
            f"{middle_ms:,.1f} ms",
            f"{lookups} / {middle_lookups}",
            str(held),
            "yes" if max(first_ms, middle_ms) < TARGET_MS else "no",
        )
    return table
