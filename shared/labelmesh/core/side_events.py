"""Events written beside a request, each in a transaction of its own, never in
its way: a request does not wait for them, and one that is cancelled (its
client went away) still has them written."""

from __future__ import annotations

import asyncio
import logging

from labelmesh.core.uow import Transaction, UnitOfWork
from labelmesh.v1.events_pb2 import Envelope

log = logging.getLogger(__name__)


class SideEvents:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self._writing: set[asyncio.Task[None]] = set()

    def emit(self, event: Envelope) -> None:
        """Write `event` through the outbox, in the background."""
        task = asyncio.get_running_loop().create_task(self._write(event))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def drain(self) -> None:
        """Wait for the events being written."""
        await asyncio.gather(*self._writing)

    async def _write(self, event: Envelope) -> None:
        async def write(tx: Transaction) -> None:
            tx.emit(event)

        try:
            await self.uow.run(write)
        except Exception:
            log.exception("a %s event could not be written", event.event_type)
