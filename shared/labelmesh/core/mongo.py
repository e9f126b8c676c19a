"""MongoDB access through PyMongo's async API, and the unit of work that
writes a state change, its processed-event mark and its outgoing events in
one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.envelopes import encode, headers_for
from labelmesh.core.topics import Topics
from labelmesh.v1.events_pb2 import Envelope

Document = dict[str, Any]
OUTBOX = "outbox"
PROCESSED = "processed_events"


def connect(uri: str) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=10_000)


def outbox_document(envelope: Envelope, topics: Topics) -> Document:
    return {
        "_id": ObjectId(),
        "event_id": envelope.event_id,
        "event_type": envelope.event_type,
        "topic": topics.for_event(envelope.event_type),
        "key": envelope.item_id or envelope.project_id,
        "value": encode(envelope),
        "headers": [[name, value] for name, value in headers_for(envelope)],
        "created_at": datetime.now(UTC),
        "published": False,
    }


class Transaction:
    """One open transaction: its session, the database, and what to emit."""

    def __init__(self, db: AsyncDatabase[Document], session: AsyncClientSession) -> None:
        self.db = db
        self.session = session
        self.outgoing: list[Envelope] = []

    async def claim_event(self, event_id: str, consumer: str) -> bool:
        """Record that an event is handled; False if it already was.

        Two replicas racing on one event both pass the read; the second insert
        then fails and its transaction aborts, so the event takes effect once.
        """
        if await self.db[PROCESSED].find_one({"_id": event_id}, session=self.session):
            return False
        await self.db[PROCESSED].insert_one(
            {"_id": event_id, "consumer": consumer, "at": datetime.now(UTC)}, session=self.session
        )
        return True

    def emit(self, *envelopes: Envelope) -> None:
        """Queue events; they are written to the outbox when the transaction commits."""
        self.outgoing.extend(envelopes)


class UnitOfWork:
    """Opens transactions on one service's database and wakes the outbox relay
    after each commit that emitted events."""

    def __init__(
        self,
        client: AsyncMongoClient[Document],
        db: AsyncDatabase[Document],
        topics: Topics,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.client = client
        self.db = db
        self.topics = topics
        self._on_commit = on_commit

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[Transaction]:
        async with self.client.start_session() as session, await session.start_transaction():
            tx = Transaction(self.db, session)
            yield tx
            if tx.outgoing:
                documents = [outbox_document(e, self.topics) for e in tx.outgoing]
                await self.db[OUTBOX].insert_many(documents, session=session)
        if tx.outgoing:
            self._on_commit()


async def ensure_core_indexes(db: AsyncDatabase[Document]) -> None:
    """Indexes the shared machinery relies on."""
    await asyncio.gather(
        db[OUTBOX].create_index([("published", ASCENDING), ("_id", ASCENDING)]),
        db[OUTBOX].create_index("event_id", unique=True),
    )
