"""Admission control shared by a service's REST and gRPC APIs: at most a number
of requests in flight (the configured maximum, lowered while requests are slow:
`concurrency_limit`), a short wait for a slot and then shedding, and a deadline
on every admitted request.

The deadline also bounds the request's MongoDB work: its commands carry the
time left as maxTimeMS (PyMongo's `timeout`), so a request that is given up on
does not keep the database busy after its caller has gone. That deadline lives
in context variables, which a task started during the request would inherit;
`tasks_without_request_deadlines` keeps it out of them.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pymongo
from prometheus_client import CollectorRegistry, Counter, Gauge
from pymongo import _csot
from pymongo.errors import PyMongoError

from labelmesh.core.concurrency_limit import AdaptiveLimit
from labelmesh.core.config import CoreSettings

OVERLOADED = "overloaded"
SHUTTING_DOWN = "shutting_down"
DEADLINE_EXCEEDED = "deadline_exceeded"


@dataclass(frozen=True)
class AdmissionLimits:
    max_in_flight: int
    wait_seconds: float
    deadline_seconds: float
    retry_after_seconds: int

    @classmethod
    def from_settings(cls, settings: CoreSettings) -> AdmissionLimits:
        return cls(
            max_in_flight=settings.max_requests_in_flight,
            wait_seconds=settings.admission_wait_seconds,
            deadline_seconds=settings.request_deadline_seconds,
            retry_after_seconds=settings.retry_after_seconds,
        )


class AdmissionMetrics:
    """Requests in flight, shed, past their deadline and cancelled, by API (rest, grpc)."""

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        prefix = f"labelmesh_{service}"
        self.in_flight = Gauge(
            f"{prefix}_requests_in_flight",
            "API requests admitted and not yet answered (probes excluded).",
            registry=registry,
        )
        self.limit = Gauge(
            f"{prefix}_requests_in_flight_limit",
            "Requests the service admits at once now: the configured maximum, lowered "
            "while requests take more than half their deadline.",
            registry=registry,
        )
        self.shed = Counter(
            f"{prefix}_requests_shed_total",
            "Requests refused because the service was at its in-flight limit (429).",
            ["api"],
            registry=registry,
        )
        self.deadline_exceeded = Counter(
            f"{prefix}_request_deadline_exceeded_total",
            "Admitted requests that did not finish within their deadline (504).",
            ["api"],
            registry=registry,
        )
        self.cancelled = Counter(
            f"{prefix}_requests_cancelled_total",
            "Admitted requests whose work was cancelled because the caller went away.",
            ["api"],
            registry=registry,
        )


class AdmissionGate:
    """Slots for requests in flight, as many as `limit` allows at the moment. A
    request that finds none waits, first come first served, at most
    `wait_seconds`; no more requests wait than there are slots."""

    def __init__(self, limit: AdaptiveLimit, wait_seconds: float) -> None:
        self._limit = limit
        self.wait_seconds = wait_seconds
        self.in_flight = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    @property
    def limit(self) -> int:
        return self._limit.current

    async def enter(self) -> bool:
        """Take a slot; False if none came free in time (the caller is shed)."""
        if self.in_flight < self.limit and not self._waiting:
            self.in_flight += 1
            return True
        if self.wait_seconds <= 0 or len(self._waiting) >= self.limit:
            return False
        slot = asyncio.get_running_loop().create_future()
        self._waiting.append(slot)
        try:
            async with asyncio.timeout(self.wait_seconds):
                await slot
        except BaseException as exc:
            if slot.done() and not slot.cancelled():
                # The slot was handed over just as the wait gave up: pass it on.
                self.leave()
            else:
                slot.cancel()
                if slot in self._waiting:
                    self._waiting.remove(slot)
            if isinstance(exc, TimeoutError):
                return False
            raise
        return True

    def leave(self) -> None:
        """Give the slot back: to the longest waiter, unless the limit has
        shrunk below what is in flight."""
        if self.in_flight <= self.limit:
            while self._waiting:
                slot = self._waiting.popleft()
                if not slot.done():
                    slot.set_result(None)
                    return
        self.in_flight -= 1


@dataclass(frozen=True)
class Refusal:
    """Why a request was not admitted: OVERLOADED or SHUTTING_DOWN."""

    reason: str
    detail: str


class Admission:
    """One service's admission control; its REST and gRPC APIs share the slots."""

    def __init__(self, service: str, limits: AdmissionLimits, metrics: AdmissionMetrics) -> None:
        self.service = service
        self.limits = limits
        self.metrics = metrics
        # A request that needs more than half its deadline means the service is
        # taking in more than it can finish in time.
        self.limit = AdaptiveLimit(limits.max_in_flight, slow_seconds=limits.deadline_seconds / 2)
        self.gate = AdmissionGate(self.limit, limits.wait_seconds)
        self.stopping = False
        self._deadlines: set[asyncio.Timeout] = set()
        metrics.in_flight.set_function(lambda: self.gate.in_flight)
        metrics.limit.set_function(lambda: self.limit.current)

    @classmethod
    def for_service(
        cls, service: str, settings: CoreSettings, registry: CollectorRegistry
    ) -> Admission:
        return cls(
            service, AdmissionLimits.from_settings(settings), AdmissionMetrics(service, registry)
        )

    @asynccontextmanager
    async def slot(self, api: str, *, stream: bool = False) -> AsyncIterator[Refusal | None]:
        """Hold a slot for the block; yields why not (and counts it) if the request is shed.

        How long a request took adapts the limit; a stream's length says nothing of that.
        """
        refusal = None
        retry = f"retry after {self.limits.retry_after_seconds} s"
        if self.stopping:
            refusal = Refusal(SHUTTING_DOWN, f"{self.service} is shutting down; {retry}")
        elif not await self.gate.enter():
            limit = self.limit.current
            detail = f"{self.service} is at its limit of {limit} requests in flight; {retry}"
            refusal = Refusal(OVERLOADED, detail)
        if refusal is not None:
            self.metrics.shed.labels(api).inc()
            yield refusal
            return
        admitted = time.monotonic()
        try:
            yield None
        finally:
            self.gate.leave()
            if not stream:
                self.limit.observe(time.monotonic() - admitted)

    @asynccontextmanager
    async def deadline(
        self, seconds: float, *, bound_database: bool = True
    ) -> AsyncIterator[asyncio.Timeout]:
        """`deadline(seconds)`, which `stop` can shorten."""
        async with deadline(seconds, bound_database=bound_database) as timer:
            self._deadlines.add(timer)
            try:
                yield timer
            finally:
                self._deadlines.discard(timer)

    def stop(self, within: float) -> None:
        """Admit nothing more, and end every request in flight within `within` seconds,
        so that each gets an answer before the servers cancel what is left."""
        self.stopping = True
        latest = asyncio.get_running_loop().time() + max(within, 0.0)
        for timer in self._deadlines:
            when = timer.when()
            if when is None or when > latest:
                timer.reschedule(latest)

    def expiry(self) -> Refusal:
        """Why an admitted request ended unanswered: its deadline, or the shutdown."""
        retry = f"retry after {self.limits.retry_after_seconds} s"
        if self.stopping:
            return Refusal(SHUTTING_DOWN, f"{self.service} shut down before answering; {retry}")
        limit = f"{self.limits.deadline_seconds:g} s"
        return Refusal(
            DEADLINE_EXCEEDED, f"{self.service} did not answer within its deadline of {limit}"
        )


@asynccontextmanager
async def deadline(
    seconds: float, *, bound_database: bool = True
) -> AsyncIterator[asyncio.Timeout]:
    """Cancel the block after `seconds`; its MongoDB commands carry the time left."""
    async with asyncio.timeout(seconds) as timeout:
        if bound_database:
            with pymongo.timeout(seconds):
                yield timeout
        else:
            yield timeout


def is_database_timeout(exc: BaseException) -> bool:
    """A MongoDB operation ran out of the time its request had left."""
    return isinstance(exc, PyMongoError) and exc.timeout


def tasks_without_request_deadlines(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Make tasks started on `loop` during a request leave its database deadline
    behind: such a task (a group-commit writer, a model batch) may outlive the
    request and work for others. A task that does the request's own work is
    awaited by it, and cancelled with it. Returns a function that undoes this."""
    # Typeshed's task factory type for 3.11 lacks the `context` argument asyncio passes.
    previous: Any = loop.get_task_factory()

    def factory(
        loop: asyncio.AbstractEventLoop,
        coro: Coroutine[Any, Any, Any],
        context: contextvars.Context | None = None,
    ) -> asyncio.Task[Any]:
        if context is None and _csot.get_timeout() is not None:
            context = contextvars.copy_context()
            context.run(_csot.reset_all)
        if previous is not None:
            task: asyncio.Task[Any] = (
                previous(loop, coro) if context is None else previous(loop, coro, context=context)
            )
            return task
        return asyncio.Task(coro, loop=loop, context=context)

    loop.set_task_factory(factory)  # type: ignore[arg-type]
    return lambda: loop.set_task_factory(previous)
