"""A shared count of work in flight, so that a consumer can stop fetching
while the workers behind it are full (backpressure)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Capacity:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.used = 0
        self._room = asyncio.Event()
        self._room.set()

    @property
    def full(self) -> bool:
        return self.used >= self.limit

    @asynccontextmanager
    async def hold(self, units: int = 1) -> AsyncIterator[None]:
        """Count `units` of work as in flight for the duration of the block.

        Never blocks: callers that must not wait (an API request) still get
        in; the consumer is what waits for room.
        """
        self.used += units
        self._update()
        try:
            yield
        finally:
            self.used -= units
            self._update()

    async def wait_for_room(self) -> None:
        await self._room.wait()

    def _update(self) -> None:
        if self.full:
            self._room.clear()
        else:
            self._room.set()
