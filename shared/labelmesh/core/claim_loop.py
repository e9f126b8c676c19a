"""The loop of a worker that claims its jobs from the database, one at a time:
at once while there are more, else when woken or after a poll interval."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def run_claims(
    run_next: Callable[[], Awaitable[bool]], wake: asyncio.Event, poll_seconds: float, what: str
) -> None:
    """Call `run_next` (claim and run one job; False if none waited) until
    cancelled. A failure outside a job (the database unreachable) is logged,
    naming `what` is claimed, and the loop goes on."""
    while True:
        try:
            ran = await run_next()
        except Exception:
            log.exception("claiming %s failed; retrying", what)
            ran = False
        if not ran:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), poll_seconds)
            wake.clear()
