"""Running one service in-process for integration tests, and waiting on its state."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from labelmesh.core.runner import ServiceDefinition, serve

T = TypeVar("T")


@contextlib.asynccontextmanager
async def serving(service: ServiceDefinition) -> AsyncIterator[ServiceDefinition]:
    """Run a service (REST, gRPC, consumer, relay) from when it is ready until the block ends."""
    stop, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(service, stop, started))
    ready = asyncio.create_task(started.wait())
    await asyncio.wait([task, ready], timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if not started.is_set():
        ready.cancel()
        task.cancel()
        raise RuntimeError(f"{service.name} did not start") from (
            task.exception() if task.done() and not task.cancelled() else None
        )
    try:
        yield service
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def eventually(
    condition: Callable[[], Awaitable[bool]], within: float = 30.0, what: str = "condition"
) -> None:
    """Poll an async condition until it holds; fail naming `what` once `within` seconds pass."""
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)


def wait_for(probe: Callable[[], T | None], what: str, within: float = 30.0) -> T:
    """Call `probe` until it returns something other than None or False."""
    deadline = time.monotonic() + within
    while True:
        result = probe()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")
        time.sleep(0.1)
