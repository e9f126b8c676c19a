"""A reverse proxy that makes a service fail a share of its requests, for the
tests and benchmarks of clients that must retry without losing or doubling
anything.

Half the failures happen before the request reaches the service, half after
the service did the work (its answer is replaced by the error), which is the
case that would double an upload if retries were not idempotent.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from labelmesh.devstack.processes import free_port

START_DEADLINE_SECONDS = 10.0
# Hop-by-hop and framing headers the proxy sets itself.
DROPPED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}
)


@dataclass
class FaultCounts:
    forwarded: int = 0
    failed_before: int = 0
    failed_after: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def failed(self) -> int:
        return self.failed_before + self.failed_after


def faulty_app(target: str, failure_rate: float, seed: int, counts: FaultCounts) -> Starlette:
    chance = random.Random(seed)
    upstream = httpx.AsyncClient(base_url=target, timeout=120)

    async def proxy(request: Request) -> Response:
        with counts.lock:
            fail = chance.random() < failure_rate
            before = fail and chance.random() < 0.5
        if before:
            with counts.lock:
                counts.failed_before += 1
            return Response("injected failure before the service", status_code=500)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in DROPPED_HEADERS}
        answer = await upstream.request(
            request.method,
            request.url.path,
            params=request.url.query,
            content=await request.body(),
            headers=headers,
        )
        with counts.lock:
            if fail:
                counts.failed_after += 1
            else:
                counts.forwarded += 1
        if fail:
            return Response("injected failure after the service answered", status_code=500)
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in DROPPED_HEADERS}
        return Response(answer.content, status_code=answer.status_code, headers=kept)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await upstream.aclose()

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
    routes = [Route("/{path:path}", proxy, methods=methods)]
    return Starlette(routes=routes, lifespan=lifespan)


@contextmanager
def faulty_proxy(
    target: str, failure_rate: float, seed: int = 0
) -> Iterator[tuple[str, FaultCounts]]:
    """The proxy's URL while the block runs, and its counts."""
    counts = FaultCounts()
    port = free_port()
    config = uvicorn.Config(
        faulty_app(target, failure_rate, seed, counts),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the faulty proxy did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", counts
    finally:
        server.should_exit = True
        thread.join(timeout=10)
