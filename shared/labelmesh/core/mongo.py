"""MongoDB access through PyMongo's async API, and the unit of work that
writes a state change, its processed-event mark and its outgoing events in
one transaction."""

from __future__ import annotations

import asyncio
import random
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from bson import ObjectId
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from labelmesh.core.envelopes import encode
from labelmesh.core.errors import Conflict
from labelmesh.core.topics import Topics
from labelmesh.core.uow import Transaction, claim_new_in_order
from labelmesh.v1.events_pb2 import Envelope

Document = dict[str, Any]
T = TypeVar("T")
DUPLICATE_KEY = 11000
# SecantusDB checks each document an `$in` finds against every value asked for, so
# one query's cost grows with found x asked: 1,000 ids take ~0.7 s in one query
# and ~0.09 s in queries of 50.
IN_CHUNK = 50
OUTBOX = "outbox"
PROCESSED = "processed_events"
LEGACY_OUTBOX_INDEX = "event_id_1"


def connect(uri: str) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=10_000)


# Envelope bytes per outbox document, well under MongoDB's 16 MiB document limit.
OUTBOX_DOCUMENT_BYTES = 8 * 1024 * 1024
_LENGTH_BYTES = 4


def outbox_documents(envelopes: Sequence[Envelope]) -> list[Document]:
    """What one transaction writes to the outbox: one document holding its events in
    order, or several in `_id` order if they would not fit in one.

    The events are one binary field of length-prefixed encoded envelopes: a field
    the database stores without looking inside is far cheaper to write, read and
    mark published than a thousand subdocuments.
    """
    documents: list[Document] = []
    values: list[bytes] = []
    size = 0
    for envelope in envelopes:
        value = encode(envelope)
        if values and size + len(value) > OUTBOX_DOCUMENT_BYTES:
            documents.append(_outbox_document(values))
            values, size = [], 0
        values.append(value)
        size += len(value)
    if values:
        documents.append(_outbox_document(values))
    return documents


def _outbox_document(values: list[bytes]) -> Document:
    framed = b"".join(len(v).to_bytes(_LENGTH_BYTES, "big") + v for v in values)
    # ObjectIds made in one process increase, so `_id` order is write order.
    return {
        "_id": ObjectId(),
        "envelopes": framed,
        "count": len(values),
        "created_at": datetime.now(UTC),
        "published": False,
    }


def outbox_values(document: Document) -> list[bytes]:
    """The encoded envelopes of an outbox document, in order. A document written
    before outbox documents held many events holds one, as `value`."""
    if "envelopes" not in document:
        return [bytes(document["value"])]
    framed = memoryview(document["envelopes"])
    values, at = [], 0
    while at < len(framed):
        length = int.from_bytes(framed[at : at + _LENGTH_BYTES], "big")
        at += _LENGTH_BYTES
        values.append(bytes(framed[at : at + length]))
        at += length
    return values


class MongoTransaction:
    """One open MongoDB transaction: its session, the database, and what to emit."""

    def __init__(self, db: AsyncDatabase[Document], session: AsyncClientSession) -> None:
        self.db = db
        self.session = session
        self.outgoing: list[Envelope] = []

    async def claim_event(self, event_id: str, consumer: str) -> bool:
        """Record that an event is handled; False if it already was."""
        return bool(await self.claim_events([event_id], consumer))

    async def claim_events(self, event_ids: Sequence[str], consumer: str) -> set[str]:
        """Record that events are handled; returns the ids not handled before.

        Two replicas racing on one event both pass the read; the second insert
        then fails and its transaction aborts, so the event takes effect once.
        """
        processed = self.db[PROCESSED]
        cursor = processed.find({"_id": {"$in": list(event_ids)}}, {"_id": 1}, session=self.session)
        fresh = set(event_ids) - {d["_id"] async for d in cursor}
        if fresh:
            now = datetime.now(UTC)
            await processed.insert_many(
                [{"_id": i, "consumer": consumer, "at": now} for i in fresh], session=self.session
            )
        return fresh

    async def claim_new(self, envelopes: Sequence[Envelope], consumer: str) -> list[Envelope]:
        """The envelopes not handled before, each once, in order; they are now claimed."""
        return await claim_new_in_order(self, envelopes, consumer)

    def emit(self, *envelopes: Envelope) -> None:
        """Queue events; they are written to the outbox when the transaction commits."""
        self.outgoing.extend(envelopes)


class MongoUnitOfWork:
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

    async def run(self, work: Callable[[Transaction], Awaitable[T]], attempts: int = 8) -> T:
        """Run `work` in a transaction, again from the start if it hits a transient conflict.

        The wait before each new attempt is random (full jitter, doubling up to about 2.5 s),
        so that writers who collided on one document do not collide again in step.
        """
        for attempt in range(1, attempts + 1):
            try:
                async with self.begin() as tx:
                    return await work(tx)
            except PyMongoError as exc:
                if attempt == attempts or not is_transient(exc):
                    raise
                await asyncio.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise AssertionError("unreachable")

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[MongoTransaction]:
        async with self.client.start_session() as session, await session.start_transaction():
            tx = MongoTransaction(self.db, session)
            yield tx
            if tx.outgoing:
                # An event without a topic fails here, in the transaction, not in the relay.
                for envelope in tx.outgoing:
                    self.topics.for_event(envelope.event_type)
                documents = outbox_documents(tx.outgoing)
                await self.db[OUTBOX].insert_many(documents, session=session)
        if tx.outgoing:
            self._on_commit()


def session_of(tx: Transaction) -> AsyncClientSession:
    """The MongoDB session behind a transaction, for the MongoDB repositories."""
    if not isinstance(tx, MongoTransaction):
        raise TypeError(f"a MongoDB repository needs a MongoDB transaction, not {tx!r}")
    return tx.session


async def find_in(
    collection: AsyncCollection[Document],
    field: str,
    values: Iterable[Any],
    session: AsyncClientSession | None = None,
    projection: Mapping[str, int] | None = None,
) -> list[Document]:
    """The documents whose `field` is one of `values` (each asked once), IN_CHUNK at a time."""
    wanted = list(dict.fromkeys(values))
    found: list[Document] = []
    for first in range(0, len(wanted), IN_CHUNK):
        query = {field: {"$in": wanted[first : first + IN_CHUNK]}}
        found += await collection.find(query, projection, session=session).to_list(None)
    return found


def is_duplicate_key(exc: PyMongoError) -> bool:
    """A unique index refused a write (alone or inside a bulk write)."""
    if isinstance(exc, DuplicateKeyError):
        return True
    if isinstance(exc, BulkWriteError):
        errors = exc.details.get("writeErrors", [])
        return any(error.get("code") == DUPLICATE_KEY for error in errors)
    return False


@contextmanager
def duplicates_conflict(message: str) -> Iterator[None]:
    """Inside the block, a write refused by a unique index raises Conflict(message)."""
    try:
        yield
    except PyMongoError as exc:
        if not is_duplicate_key(exc):
            raise
        raise Conflict(message) from exc


def is_transient(exc: BaseException) -> bool:
    """A write conflict or similar: the same transaction may succeed if run again."""
    return isinstance(exc, PyMongoError) and exc.has_error_label("TransientTransactionError")


async def ensure_core_indexes(db: AsyncDatabase[Document]) -> None:
    """Indexes the shared machinery relies on."""
    outbox = db[OUTBOX]
    await outbox.create_index([("published", ASCENDING), ("_id", ASCENDING)])
    # Outbox documents with one event each had a unique event id; documents that
    # hold a transaction's events have none, which that index would refuse.
    if LEGACY_OUTBOX_INDEX in await outbox.index_information():
        await outbox.drop_index(LEGACY_OUTBOX_INDEX)
