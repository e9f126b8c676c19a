"""The projection's read for a version stays on its index as the database
grows: each bucket lookup reads only the accepted items it returns.

The test captures the queries the adapter really sends, then asks SecantusDB's
explain what each reads, at 1,000 and at 20,000 items of ten projects.
"""

from __future__ import annotations

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document
from labelmesh.dataset.adapters.repository import MongoItemProjection, item_document
from labelmesh.dataset.records import Acceptance, ProjectedItem
from labelmesh.testing.hot_queries import Examined, SentCommands, examined, growth
from labelmesh.testing.twins.dataset import T0

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
