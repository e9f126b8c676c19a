"""The relay that publishes what transactions wrote to the outbox.

It reads unpublished documents in insertion order, sends them as one batch,
and marks them published. A crash between send and mark republishes the batch;
consumers drop the replays by event id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.bus import EventPublisher, RawEvent
from labelmesh.core.metrics import BusMetrics
from labelmesh.core.mongo import OUTBOX, Document

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        publisher: EventPublisher,
        metrics: BusMetrics,
        poll_seconds: float,
        batch_size: int = 500,
    ) -> None:
        self.db = db
        self.publisher = publisher
        self.metrics = metrics
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """Publish now instead of at the next poll; called after each commit."""
        self._wakeup.set()

    async def publish_pending(self) -> int:
        """Publish one batch of pending events; returns how many were sent."""
        outbox = self.db[OUTBOX]
        pending = await outbox.find({"published": False}).sort("_id", 1).to_list(self.batch_size)
        if not pending:
            self.metrics.outbox_pending.set(0)
            return 0
        started = time.perf_counter()
        await self.publisher.send_raw(
            [
                RawEvent(
                    topic=d["topic"],
                    key=d["key"].encode(),
                    value=d["value"],
                    headers=[(name, bytes(value)) for name, value in d["headers"]],
                    event_type=d["event_type"],
                )
                for d in pending
            ]
        )
        await outbox.update_many(
            {"_id": {"$in": [d["_id"] for d in pending]}},
            {"$set": {"published": True, "published_at": datetime.now(UTC)}},
        )
        self.metrics.outbox_relay_seconds.observe(time.perf_counter() - started)
        # A short batch emptied the outbox; after a full one, count what is left.
        backlog = (
            await outbox.count_documents({"published": False})
            if len(pending) == self.batch_size
            else 0
        )
        self.metrics.outbox_pending.set(backlog)
        return len(pending)

    async def run(self) -> None:
        while True:
            # Cleared before reading, so a commit during the read is not missed.
            self._wakeup.clear()
            try:
                sent = await self.publish_pending()
            except Exception:
                log.exception("outbox relay failed; retrying")
                sent = 0
                await asyncio.sleep(self.poll_seconds)
            if sent:
                continue
            try:
                await asyncio.wait_for(self._wakeup.wait(), self.poll_seconds)
            except TimeoutError:
                pass
