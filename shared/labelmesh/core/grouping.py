"""Group commit: requests that arrive while a group is being written wait, and
are written together as the next group, in one transaction. A lone request
goes at once; under load a group carries everything that queued meanwhile,
so the database sees one write per group instead of one per request."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


class GroupCommit(Generic[In, Out]):
    """`write` takes a group of requests and returns, for each, its result or the
    error that request alone failed with; if it raises, every request of the group fails."""

    def __init__(
        self,
        write: Callable[[list[In]], Awaitable[Sequence[Out | BaseException]]],
        max_group: int = 64,
    ) -> None:
        self.write = write
        self.max_group = max_group
        self._waiting: list[tuple[In, asyncio.Future[Out]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, request: In) -> Out:
        """The request's result once its group is written; raises what failed it."""
        future: asyncio.Future[Out] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_groups())
        return await future

    async def _write_groups(self) -> None:
        try:
            while self._waiting:
                group = self._waiting[: self.max_group]
                del self._waiting[: len(group)]
                # A caller that gave up (its deadline passed) before its group started is dropped.
                group = [(request, future) for request, future in group if not future.done()]
                if group:
                    await self._write_group(group)
        except asyncio.CancelledError:
            for _, future in self._waiting:
                future.cancel()
            self._waiting.clear()
            raise

    async def _write_group(self, group: list[tuple[In, asyncio.Future[Out]]]) -> None:
        try:
            outcomes = await self.write([request for request, _ in group])
        except asyncio.CancelledError:
            for _, future in group:
                future.cancel()
            raise
        except Exception as exc:  # the whole group failed: each caller hears why
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), outcome in zip(group, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
