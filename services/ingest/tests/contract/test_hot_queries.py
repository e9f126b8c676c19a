"""The ingest service's hot queries stay answered by an index as collections grow:
the dedup check of every upload and the project lookup that precedes it.

Each test captures the query the adapter really sends, then asks SecantusDB's
explain how many documents it reads, at 1,000 and at 20,000 documents.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document
from labelmesh.core.projects import MongoProjectDirectory
from labelmesh.ingest.adapters.repository import MongoItemRepository, item_document
from labelmesh.ingest.domain import TEXT_CONTENT_TYPE, item_id_for
from labelmesh.ingest.records import StoredItem
from labelmesh.testing.hot_queries import Examined, SentCommands, examined, growth
from labelmesh.v1.events_pb2 import DataType, ProjectSpec

pytestmark = pytest.mark.integration
PROJECTS = 10
AT = datetime(2026, 11, 30, tzinfo=UTC)


def sha_of(n: int) -> str:
    return hashlib.sha256(f"text {n}".encode()).hexdigest()


def text_item(n: int) -> Document:
    # Items of several projects, as in a database shared by many projects.
    project = f"p{n % PROJECTS}"
    sha256 = sha_of(n)
    stored = StoredItem(
        item_id=item_id_for(project, sha256),
        project_id=project,
        data_type=DataType.DATA_TYPE_TEXT,
        content_type=TEXT_CONTENT_TYPE,
        sha256=sha256,
        size_bytes=len(f"text {n}"),
        media_key="",
        created_at=AT,
        text=f"text {n}",
    )
    return item_document(stored)


def project(n: int) -> Document:
    return {"_id": f"p{n}", "spec": ProjectSpec(project_id=f"p{n}").SerializeToString()}


async def examined_by_all(
    collection: AsyncCollection[Document], sent_commands: SentCommands
) -> Examined:
    """What the server reads to answer every find the adapter sent."""
    finds = sent_commands.named("find")
    assert finds, "the adapter sent no query"
    each = [await examined(collection, find["filter"]) for find in finds]
    return Examined(sum(e.keys for e in each), sum(e.docs for e in each))


def assert_flat(small: Examined, large: Examined, at_most: int) -> None:
    assert large.docs <= at_most, f"read {large.docs} documents for {at_most} answers"
    assert (large.keys, large.docs) == (small.keys, small.docs), f"{small} grew to {large}"


async def test_the_dedup_check_reads_only_the_items_it_asks_for(
    watched_db: AsyncDatabase[Document], sent_commands: SentCommands
) -> None:
    items = MongoItemRepository(watched_db)
    # Half of these were stored before (items 0, 10, 20, ... are project p0's), half are new.
    hashes = [sha_of(n * PROJECTS) for n in range(20)] + [sha_of(-n) for n in range(1, 21)]

    async def measure() -> Examined:
        sent_commands.sent.clear()
        found = await items.ids_by_hash("p0", hashes)
        assert len(found) == 20
        return await examined_by_all(items.items, sent_commands)

    small, large = await growth([(items.items, text_item)], measure)
    assert_flat(small, large, at_most=len(hashes))


async def test_the_project_lookup_is_a_point_lookup(
    watched_db: AsyncDatabase[Document], sent_commands: SentCommands
) -> None:
    projects = MongoProjectDirectory(watched_db)

    async def measure() -> Examined:
        sent_commands.sent.clear()
        assert await projects.get("p7") == ProjectSpec(project_id="p7")
        return await examined_by_all(projects.collection, sent_commands)

    small, large = await growth([(projects.collection, project)], measure)
    assert_flat(small, large, at_most=1)
