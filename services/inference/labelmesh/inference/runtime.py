"""Runs models: each loads once per process, works on a thread of its own,
batches concurrent callers, and has a time limit. A failure stays with the
items that caused it: a bad input fails alone, and a crashing or hanging
model fails its items without stopping anything else."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from labelmesh.core.capacity import Capacity
from labelmesh.inference.batching import MicroBatcher
from labelmesh.inference.metrics import InferenceMetrics
from labelmesh.inference.models.base import Model, ModelInput, ModelSpec, UndecodableInput
from labelmesh.v1.geometry_pb2 import Label

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Failure:
    """Why a model produced nothing for an item."""

    field: str  # the input at fault ("media", "text"), or "" when the model failed
    reason: str


Outcome = list[Label] | Failure


class ModelTimeout(Exception):
    pass


@dataclass(frozen=True)
class Batching:
    """How a runner groups concurrent calls into batches, and how long a batch may take."""

    max_batch_size: int
    max_wait_seconds: float
    timeout_seconds: float


class ModelRunner:
    def __init__(
        self, model: Model, metrics: InferenceMetrics, capacity: Capacity, batching: Batching
    ) -> None:
        self.model = model
        self.metrics = metrics
        self.capacity = capacity
        self.timeout_seconds = batching.timeout_seconds
        self._executor = self._new_executor()
        self._load_lock = asyncio.Lock()
        self._load_error: str | None = None
        self.loaded = False
        self._batcher: MicroBatcher[Any, Outcome] = MicroBatcher(
            self._predict, batching.max_batch_size, batching.max_wait_seconds
        )

    @property
    def spec(self) -> ModelSpec:
        return self.model.spec

    def _new_executor(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"model-{self.spec.id}")

    async def load(self) -> None:
        """Load the weights once; a model that failed to load says why on every call."""
        async with self._load_lock:
            if self.loaded:
                return
            started = time.perf_counter()
            try:
                await self._call(self.model.load, limit_seconds=max(self.timeout_seconds, 120.0))
            except Exception as exc:
                self._load_error = f"model {self.spec.id!r} could not be loaded: {exc}"
                log.error(self._load_error)
                raise
            self.metrics.model_loads.labels(self.spec.id).observe(time.perf_counter() - started)
            self.loaded = True

    async def run(self, items: Sequence[ModelInput]) -> list[Outcome]:
        """One outcome per item, in order. Never raises for a bad item or model."""
        if not items:
            return []
        try:
            await self.load()
        except Exception:
            return [Failure("", self._load_error or "model not loaded")] * len(items)
        async with self.capacity.hold(len(items)):
            try:
                prepared = await self._call(self._prepare_all, items)
            except Exception as exc:
                return [self._failed(exc, len(items))] * len(items)
            ready = [p for p in prepared if not isinstance(p, Failure)]
            predicted = iter(await self._batcher.submit_many(ready))
            outcomes = [p if isinstance(p, Failure) else next(predicted) for p in prepared]
        self.metrics.model_items.labels(self.spec.id).inc(
            sum(not isinstance(o, Failure) for o in outcomes)
        )
        return outcomes

    def _prepare_all(self, items: Sequence[ModelInput]) -> list[Any]:
        prepared: list[Any] = []
        for item in items:
            try:
                prepared.append(self.model.prepare(item))
            except UndecodableInput as exc:
                self.metrics.model_errors.labels(self.spec.id, "undecodable").inc()
                prepared.append(Failure(exc.field, exc.reason))
        return prepared

    async def _predict(self, batch: list[Any]) -> list[Outcome]:
        self.metrics.batch_size.labels(self.spec.id).observe(len(batch))
        started = time.perf_counter()
        try:
            labels = await self._call(self.model.predict, batch)
        except ModelTimeout as exc:
            return [self._failed(exc, len(batch))] * len(batch)
        except Exception as exc:
            if len(batch) == 1:
                return [self._failed(exc, 1)]
            # One input may be what breaks the model: retry each alone so the
            # others still get their labels.
            log.warning(
                "model %s failed a batch of %d; retrying one by one", self.spec.id, len(batch)
            )
            return [outcome for p in batch for outcome in await self._predict([p])]
        self.metrics.model_seconds.labels(self.spec.id).observe(time.perf_counter() - started)
        if len(labels) != len(batch):
            error = RuntimeError(f"returned {len(labels)} results for {len(batch)} items")
            return [self._failed(error, len(batch))] * len(batch)
        return list(labels)

    def _failed(self, exc: BaseException, count: int) -> Failure:
        kind = "timeout" if isinstance(exc, ModelTimeout) else "error"
        self.metrics.model_errors.labels(self.spec.id, kind).inc(count)
        if isinstance(exc, ModelTimeout):
            return Failure("", f"model {self.spec.id!r} timed out after {self.timeout_seconds:g} s")
        return Failure("", f"model {self.spec.id!r} failed: {exc}")

    async def _call(
        self, function: Callable[..., T], *args: Any, limit_seconds: float | None = None
    ) -> T:
        limit = limit_seconds or self.timeout_seconds
        future = asyncio.get_running_loop().run_in_executor(self._executor, function, *args)
        try:
            return await asyncio.wait_for(future, limit)
        except TimeoutError:
            # The worker thread is stuck inside the model and cannot be
            # interrupted; abandon it and give the model a fresh thread.
            stuck, self._executor = self._executor, self._new_executor()
            stuck.shutdown(wait=False, cancel_futures=True)
            raise ModelTimeout from None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class ModelPool:
    """Every model this process can run, each with its runner."""

    def __init__(self, metrics: InferenceMetrics, capacity: Capacity, batching: Batching) -> None:
        self.metrics = metrics
        self.capacity = capacity
        self.batching = batching
        self._runners: dict[str, ModelRunner] = {}
        metrics.in_flight.set_function(lambda: capacity.used)

    def add(self, model: Model, timeout_seconds: float | None = None) -> ModelRunner:
        return self.put(self.runner_for(model, timeout_seconds))

    def runner_for(self, model: Model, timeout_seconds: float | None = None) -> ModelRunner:
        """A runner of `model` on this pool's capacity, not yet in the pool."""
        batching = self.batching
        if timeout_seconds:
            batching = replace(batching, timeout_seconds=timeout_seconds)
        return ModelRunner(model, self.metrics, self.capacity, batching)

    def put(self, runner: ModelRunner) -> ModelRunner:
        """Add `runner`, closing the one it replaces."""
        previous = self._runners.get(runner.spec.id)
        if previous is not None:
            previous.close()
        self._runners[runner.spec.id] = runner
        return runner

    def get(self, model_id: str) -> ModelRunner | None:
        return self._runners.get(model_id)

    def specs(self) -> list[ModelSpec]:
        return [runner.spec for runner in self._runners.values()]

    def close(self) -> None:
        for runner in self._runners.values():
            runner.close()
