"""Micro-batching: concurrent callers' inputs are gathered into one model call,
up to a batch size or a wait, whichever comes first."""

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
        future: asyncio.Future[Out] = asyncio.get_running_loop().create_future()
        self._pending.append((value, future))
        if len(self._pending) >= self.max_batch_size:
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.max_wait_seconds, self._flush)
        return await future

    async def submit_many(self, values: Sequence[In]) -> list[Out]:
        return list(await asyncio.gather(*(self.submit(v) for v in values)))

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

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
