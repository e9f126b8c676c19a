"""Bucket sync's queries of object records stay answered by an index as a
bucket grows: the page lookup of every listed page, the unseen records after a
full listing, and the owners of items a deletion may take.

As in test_hot_queries.py, the queries the adapter really sends are explained
at 1,000 and at 20,000 records of ten buckets.
"""

from __future__ import annotations

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document
from labelmesh.ingest.adapters.bucket_objects import MongoObjectRecords
from labelmesh.testing.hot_queries import Examined, SentCommands, growth

from .test_hot_queries import assert_flat, examined_by_all

pytestmark = pytest.mark.integration
BUCKETS = 10
# The records of these objects were not seen by the running full listing.
UNSEEN = 5


def record(n: int) -> Document:
    bucket_id = f"bkt_{n % BUCKETS}"
    key = f"photos/{n:07d}.png"
    return {
        "_id": f"{bucket_id}/{key}",
        "bucket_id": bucket_id,
        "key": key,
        "etag": f"etag-{n}",
        "item_id": f"item-{n}",
        "error": "",
        "scan": 0 if n < UNSEEN * BUCKETS else 1,
    }


async def records_in(
    watched_db: AsyncDatabase[Document],
) -> MongoObjectRecords:
    records = MongoObjectRecords(watched_db)
    await records.ensure_indexes()
    return records


async def test_a_listed_page_is_looked_up_by_its_ids(
    watched_db: AsyncDatabase[Document], sent_commands: SentCommands
) -> None:
    records = await records_in(watched_db)
    # Ten stored objects of bucket 0 and ten it does not hold yet.
    keys = [f"photos/{n * BUCKETS:07d}.png" for n in range(10)] + [
        f"new/{n}.png" for n in range(10)
    ]

    async def measure() -> Examined:
        sent_commands.sent.clear()
        assert len(await records.find("bkt_0", keys)) == 10
        return await examined_by_all(records.objects, sent_commands)

    small, large = await growth([(records.objects, record)], measure)
    assert_flat(small, large, at_most=10)


async def test_the_unseen_records_are_read_alone(
    watched_db: AsyncDatabase[Document], sent_commands: SentCommands
) -> None:
    records = await records_in(watched_db)

    async def measure() -> Examined:
        sent_commands.sent.clear()
        assert len(await records.unseen("bkt_0", 0, 1000)) == UNSEEN
        return await examined_by_all(records.objects, sent_commands)

    small, large = await growth([(records.objects, record)], measure)
    assert_flat(small, large, at_most=UNSEEN)


async def test_the_owners_of_items_are_looked_up_by_item(
    watched_db: AsyncDatabase[Document], sent_commands: SentCommands
) -> None:
    records = await records_in(watched_db)
    items = [f"item-{n}" for n in range(0, 200, 20)]

    async def measure() -> Examined:
        sent_commands.sent.clear()
        assert len(await records.owners(items)) == len(items)
        return await examined_by_all(records.objects, sent_commands)

    small, large = await growth([(records.objects, record)], measure)
    assert_flat(small, large, at_most=len(items))
