"""Micro-batching: concurrent callers' inputs are gathered into one model call,
up to a batch size or a wait, whichever comes first. An idle model starts at
once: inputs wait only while an earlier batch is still running, and go as the
next batch when it ends, so a lone item pays no wait."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


class MicroBatcher(Generic[In, Out]):
    def __init__(
        self,
        run_batch: Callable[[list[In]], Awaitable[Sequence[Out]]],
        max_batch_size: int,
        max_wait_seconds: float,
    ) -> None:
        self.run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.max_wait_seconds = max_wait_seconds
        self._pending: list[tuple[In, asyncio.Future[Out]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, value: In) -> Out:
        return (await self.submit_many([value]))[0]

    async def submit_many(self, values: Sequence[In]) -> list[Out]:
        """Inputs submitted together travel together, in batches of at most the maximum."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Out]] = [loop.create_future() for _ in values]
        self._pending.extend(zip(values, futures, strict=True))
        self._schedule()
        return list(await asyncio.gather(*futures))

    def _schedule(self) -> None:
        while len(self._pending) >= self.max_batch_size:
            self._start(self.max_batch_size)
        if self._pending and not self._running:
            self._start(len(self._pending))
        if self._pending and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.max_wait_seconds, self._flush)

    def _flush(self) -> None:
        self._timer = None
        if self._pending:
            self._start(len(self._pending))

    def _start(self, count: int) -> None:
        if self._timer is not None and count == len(self._pending):
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending[:count], self._pending[count:]
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._running.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not self._running and self._pending:
            self._start(len(self._pending))

    async def _run(self, batch: list[tuple[In, asyncio.Future[Out]]]) -> None:
        try:
            outputs = await self.run_batch([value for value, _ in batch])
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), output in zip(batch, outputs, strict=True):
            if not future.done():
                future.set_result(output)
