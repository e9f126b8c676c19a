"""The inference service's hot queries stay answered by an index as its
collections grow.

Each test runs a repository's own queries, records the find commands it
sends, and has SecantusDB explain them at 1,000 and at 20,000 documents: the
documents examined must not grow with the collection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document, MongoUnitOfWork, ensure_core_indexes
from labelmesh.core.topics import Topics
from labelmesh.inference.adapters.repository import (
    MongoItemRepository,
    MongoPredictionRepository,
    MongoSetupRepository,
    item_document,
    prediction_document,
)
from labelmesh.inference.records import AutoAnnotationSetup, StoredItem, StoredPrediction
from labelmesh.testing.hot_queries import LARGE, SMALL, Examined, SentCommands, examined, seed
from labelmesh.v1.events_pb2 import (
    AutoAnnotationRules,
    ItemIngested,
    PredictionCreated,
    PredictionSource,
)

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PROJECTS = 10
# Each seeded item has this many predictions, pre-labelling and AI Assist alternating.
PREDICTIONS_PER_ITEM = 4


@dataclass
class Stored:
    db: AsyncDatabase[Document]
    uow: MongoUnitOfWork
    commands: SentCommands


@pytest.fixture
async def stored(mongo_uri: str, unique_name: str) -> AsyncIterator[Stored]:
    commands = SentCommands()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        mongo_uri, tz_aware=True, event_listeners=[commands]
    )
    db = client[unique_name]
    await ensure_core_indexes(db)
    await MongoPredictionRepository(db).ensure_indexes()
    try:
        yield Stored(db, MongoUnitOfWork(client, db, Topics(unique_name)), commands)
    finally:
        await client.drop_database(unique_name)
        await client.close()


async def examined_by(stored: Stored, run: Callable[[], Awaitable[object]]) -> Examined:
    """What the server reads to answer every find that `run` sends, summed."""
    stored.commands.sent.clear()
    await run()
    finds = stored.commands.named("find")
    assert finds, "the query sent no find"
    total = Examined(0, 0)
    for find in finds:
        one = await examined(
            stored.db[find["find"]],
            find["filter"],
            sort=find.get("sort"),
            limit=find.get("limit", 0),
        )
        total = Examined(total.keys + one.keys, total.docs + one.docs)
    return total


async def grown(
    stored: Stored,
    collection: str,
    document: Callable[[int], Document],
    run: Callable[[], Awaitable[object]],
) -> tuple[Examined, Examined]:
    """What `run`'s finds examine over SMALL documents, then over LARGE."""
    await seed(stored.db[collection], document, 0, SMALL)
    small = await examined_by(stored, run)
    await seed(stored.db[collection], document, SMALL, LARGE)
    return small, await examined_by(stored, run)


def stored_item(i: int) -> Document:
    return item_document(StoredItem(f"item-{i}", f"project-{i % PROJECTS}", ItemIngested(text="t")))


def stored_prediction(i: int) -> Document:
    source = (
        PredictionSource.PREDICTION_SOURCE_AUTO
        if i % 2
        else PredictionSource.PREDICTION_SOURCE_ASSIST
    )
    item_id = f"item-{i // PREDICTIONS_PER_ITEM}"
    prediction = PredictionCreated(prediction_id=f"prediction-{i}", source=source)
    return prediction_document(
        StoredPrediction(item_id, "project-0", prediction), AT + timedelta(seconds=i)
    )


def stored_setup(i: int) -> Document:
    return {"_id": f"project-{i}", "models": [], "rules": b"", "version": 1}


async def test_ai_assist_reads_only_the_items_it_names(stored: Stored) -> None:
    items = MongoItemRepository(stored.db)
    # item-12 belongs to project-2: read, then dropped for belonging elsewhere.
    named = ["item-7", "item-17", "item-12", "item-never-seen"]
    small, large = await grown(stored, "items", stored_item, lambda: items.get("project-7", named))
    assert small.docs <= len(named)
    assert large.docs == small.docs
    assert set(await items.get("project-7", named)) == {"item-7", "item-17"}


async def test_the_latest_prediction_reads_only_its_items_predictions(stored: Stored) -> None:
    predictions = MongoPredictionRepository(stored.db)
    small, large = await grown(
        stored, "predictions", stored_prediction, lambda: predictions.latest_auto("item-3")
    )
    assert small.docs <= PREDICTIONS_PER_ITEM
    assert large.docs == small.docs
    latest = await predictions.latest_auto("item-3")
    assert latest is not None and latest.prediction.prediction_id == "prediction-15"


async def test_a_projects_setup_is_a_point_lookup(stored: Stored) -> None:
    setups = MongoSetupRepository(stored.db)
    small, large = await grown(
        stored, "auto_annotation", stored_setup, lambda: setups.get("project-7")
    )
    assert (small.docs, large.docs) == (1, 1)
    assert await setups.get("project-7") == AutoAnnotationSetup((), AutoAnnotationRules())


async def test_a_fetchs_items_and_predictions_are_each_written_in_one_command(
    stored: Stored,
) -> None:
    items, predictions = MongoItemRepository(stored.db), MongoPredictionRepository(stored.db)
    arrived = [StoredItem(f"item-{k}", "project-0", ItemIngested(text="t")) for k in range(300)]
    predicted = [
        StoredPrediction(i.item_id, "project-0", PredictionCreated(prediction_id=f"p-{i.item_id}"))
        for i in arrived
    ]
    stored.commands.sent.clear()
    async with stored.uow.begin() as tx:
        await items.save(tx, arrived)
        await predictions.save(tx, predicted)
    writes = [
        (kind, command[kind])
        for command in stored.commands.sent
        for kind in ("insert", "update")
        if kind in command
    ]
    assert writes == [("insert", "items"), ("insert", "predictions")]
