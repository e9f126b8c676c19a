"""The relay that publishes what transactions wrote to the outbox.

Each committed transaction wrote one outbox document holding its events in
order. The relay takes the oldest unpublished documents, sends their events as
one batch (keyed, with their trace headers, by `EventPublisher.publish`), then
marks those documents published. A crash between send and mark republishes
them; consumers drop the replays by event id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.bus import EventPublisher
from labelmesh.core.envelopes import decode
from labelmesh.core.metrics import BusMetrics
from labelmesh.core.mongo import OUTBOX, Document, outbox_values
from labelmesh.v1.events_pb2 import Envelope

log = logging.getLogger(__name__)
UNPUBLISHED = {"published": False}
# Events per relay round. A round's time is mostly the wait for the broker's
# acknowledgements, which grows far slower than the batch: a bulk import's
# outbox documents of 1,000 events each need several per round to keep up.
RELAY_BATCH_EVENTS = 5_000


class OutboxRelay:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        publisher: EventPublisher,
        metrics: BusMetrics,
        poll_seconds: float,
        batch_size: int = RELAY_BATCH_EVENTS,
    ) -> None:
        self.db = db
        self.publisher = publisher
        self.metrics = metrics
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self._wakeup = asyncio.Event()
        # Whether the last round left pending documents for the next one.
        self._left_behind = False

    def wake(self) -> None:
        """Publish now instead of at the next poll; called after each commit."""
        self._wakeup.set()

    async def publish_pending(self) -> int:
        """Publish the events of the oldest pending documents, about `batch_size`
        of them and at least one document's; returns how many were sent."""
        outbox = self.db[OUTBOX]
        # Only ids and sizes first: pending documents can be large.
        heads = await outbox.find(UNPUBLISHED, {"count": 1}).to_list(None)
        heads.sort(key=lambda head: head["_id"])
        taken, left = _take(heads, self.batch_size)
        self._left_behind = bool(left)
        if not taken:
            self.metrics.outbox_pending.set(0)
            return 0
        started = time.perf_counter()
        ids = [head["_id"] for head in taken]
        documents = await outbox.find({"_id": {"$in": ids}}).to_list(None)
        documents.sort(key=lambda document: document["_id"])
        # Parsed without decode's checks: what a transaction wrote is sent as written,
        # and a consumer dead-letters what it cannot take; the relay never stalls on it.
        events = [
            Envelope.FromString(value)
            for document in documents
            for value in outbox_values(document)
        ]
        await self.publisher.publish(events)
        await outbox.update_many(
            {"_id": {"$in": ids}},
            {"$set": {"published": True, "published_at": datetime.now(UTC)}},
        )
        self.metrics.outbox_relay_seconds.observe(time.perf_counter() - started)
        # Documents committed since the first read are counted on the next round.
        self.metrics.outbox_pending.set(sum(_count(head) for head in left))
        return len(events)

    async def run(self) -> None:
        while True:
            # Cleared before reading, so a commit during the read is not missed.
            self._wakeup.clear()
            try:
                await self.publish_pending()
            except Exception:
                log.exception("outbox relay failed; retrying")
                self._left_behind = False
                await asyncio.sleep(self.poll_seconds)
            # With nothing left behind, the next round waits for a commit's wake-up
            # (already set if one came meanwhile) instead of reading an empty outbox.
            if self._left_behind:
                continue
            try:
                await asyncio.wait_for(self._wakeup.wait(), self.poll_seconds)
            except TimeoutError:
                pass


async def stored_events(
    db: AsyncDatabase[Document], event_type: str | None = None, key: str | None = None
) -> list[Envelope]:
    """Every event in the outbox, published or not, in the order written; only those
    of `event_type` and `key` when given. For replaying a lost broker log, and tests."""
    documents = await db[OUTBOX].find().sort("_id", 1).to_list(None)
    events = [decode(value) for document in documents for value in outbox_values(document)]
    return [
        event
        for event in events
        if (event_type is None or event.event_type == event_type)
        and (key is None or (event.item_id or event.project_id) == key)
    ]


def _take(heads: Sequence[Document], events: int) -> tuple[list[Document], list[Document]]:
    """The oldest heads whose events add up to about `events`, and the rest."""
    total = 0
    for index, head in enumerate(heads):
        if index and total + _count(head) > events:
            return list(heads[:index]), list(heads[index:])
        total += _count(head)
    return list(heads), []


def _count(head: Document) -> int:
    # A document written before outbox documents held many events has no count.
    return int(head.get("count", 1))
