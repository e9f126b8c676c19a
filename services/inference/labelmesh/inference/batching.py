"""Micro-batching: concurrent callers' inputs are gathered into one model call,
run off the event loop, up to a batch size or a wait, whichever comes first."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from labelmesh.inference.metrics import InferenceMetrics

In = TypeVar("In")
Out = TypeVar("Out")


class MicroBatcher(Generic[In, Out]):
    def __init__(
        self,
        run_batch: Callable[[Sequence[In]], Sequence[Out]],
        executor: ThreadPoolExecutor,
        max_batch_size: int,
        max_wait_seconds: float,
        metrics: InferenceMetrics,
        model: str,
    ) -> None:
        self.run_batch = run_batch
        self.executor = executor
        self.max_batch_size = max_batch_size
        self.max_wait_seconds = max_wait_seconds
        self.metrics = metrics
        self.model = model
        self._pending: list[tuple[In, asyncio.Future[Out]]] = []
        self._timer: asyncio.TimerHandle | None = None

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
            asyncio.get_running_loop().create_task(self._run(batch))

    async def _run(self, batch: list[tuple[In, asyncio.Future[Out]]]) -> None:
        inputs = [value for value, _ in batch]
        self.metrics.batch_size.labels(self.model).observe(len(inputs))
        loop = asyncio.get_running_loop()
        try:
            with self.metrics.model_seconds.labels(self.model).time():
                outputs = await loop.run_in_executor(self.executor, self.run_batch, inputs)
        except Exception as exc:
            self.metrics.model_errors.labels(self.model).inc()
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), output in zip(batch, outputs, strict=True):
            if not future.done():
                future.set_result(output)
