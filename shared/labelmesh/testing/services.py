"""Running one service (or one gRPC servicer of it) in-process for integration tests,
and waiting on its state."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import grpc

from labelmesh.core.config import CoreSettings, ServiceSettings
from labelmesh.core.runner import GrpcService, ServiceDefinition, serve

T = TypeVar("T")
S = TypeVar("S", bound=ServiceSettings)


class App(Protocol):
    """A service's wiring: its use cases, and the service definition that runs them."""

    @property
    def service(self) -> ServiceDefinition: ...


A = TypeVar("A", bound=App)


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


def service_settings(settings_class: type[S], core: CoreSettings, **fields: Any) -> S:
    """A service's settings aimed at the test's broker and database, with REST and
    gRPC on ports the system picks, unless `fields` say otherwise."""
    return settings_class(**{**core.model_dump(), "rest_port": 0, "grpc_port": 0, **fields})


@contextlib.asynccontextmanager
async def served_app(
    build_app: Callable[[S], A], settings_class: type[S], core: CoreSettings, **fields: Any
) -> AsyncIterator[A]:
    """The app `build_app` wires on `service_settings(settings_class, core, **fields)`,
    its service running from when it is ready until the block ends."""
    app = build_app(service_settings(settings_class, core, **fields))
    async with serving(app.service):
        yield app


@contextlib.asynccontextmanager
async def grpc_stub(
    service: GrpcService,
    stub: Callable[[grpc.aio.Channel], T],
    interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
) -> AsyncIterator[T]:
    """A stub over a real channel to `service`, which a gRPC server of its own serves
    on a free local port until the block ends; `interceptors` see every call."""
    server = grpc.aio.server()
    service.add_to_server(service.servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(
            f"127.0.0.1:{port}", interceptors=list(interceptors)
        ) as channel:
            yield stub(channel)
    finally:
        await server.stop(None)


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
