"""The loop that writes project checkpoints: every `seconds`, or sooner once a
project has `entries` new entries (as this replica counted them)."""

from __future__ import annotations

import asyncio
import logging

from labelmesh.audit.usecases import Audit
from labelmesh.core.uow import UnitOfWork

log = logging.getLogger(__name__)


class Checkpointer:
    def __init__(self, audit: Audit, uow: UnitOfWork, seconds: float) -> None:
        self.audit = audit
        self.uow = uow
        self.seconds = seconds
        self.due = asyncio.Event()
        audit.on_checkpoint_due = self.due.set

    async def run(self) -> None:
        """Checkpoint every dirty project, then wait for the next pass, until cancelled.

        A failed pass is logged and retried on the next: checkpoints are written
        from the project's log in a transaction of their own, so a pass that
        dies leaves nothing half-written, and another replica's pass that won
        the race is simply skipped.
        """
        while True:
            try:
                await asyncio.wait_for(self.due.wait(), self.seconds)
            except TimeoutError:
                pass
            self.due.clear()
            try:
                await self.audit.checkpoint_all(self.uow)
            except Exception:
                log.exception("checkpoint pass failed; retrying on the next")
