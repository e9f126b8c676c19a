"""Admission control for the REST API, as plain ASGI middleware (outside
routing, so that shedding a request costs next to nothing).

Shed: 429 with Retry-After (503 while the service shuts down). Past the
deadline before the response began: 504 with Retry-After. A caller that
disconnects has its request cancelled.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any

from labelmesh.core.admission import (
    DEADLINE_EXCEEDED,
    OVERLOADED,
    SHUTTING_DOWN,
    Admission,
    is_database_timeout,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
API = "rest"
STATUS = {OVERLOADED: 429, SHUTTING_DOWN: 503, DEADLINE_EXCEEDED: 504}


class RestAdmission:
    def __init__(self, app: ASGIApp, admission: Admission, exempt: Collection[str]) -> None:
        self.app = app
        self.admission = admission
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        arrived = loop.time()
        async with self.admission.slot(API) as refusal:
            if refusal is not None:
                await self._answer(send, STATUS[refusal.reason], refusal.reason, refusal.detail)
                return
            left = self.admission.limits.deadline_seconds - (loop.time() - arrived)
            await self._run(scope, receive, send, max(left, 0.001))

    async def _run(self, scope: Scope, receive: Receive, send: Send, seconds: float) -> None:
        exchange = _Exchange(scope, receive, send)
        timer: asyncio.Timeout | None = None
        try:
            async with self.admission.deadline(seconds) as timer:
                exchange.timer = timer
                try:
                    await exchange.start_watching_if_bodiless()
                    await self.app(scope, exchange.receive, exchange.send)
                finally:
                    exchange.stop_watching()
        except TimeoutError:
            if timer is None or not timer.expired():
                raise
            if exchange.disconnected:
                self.admission.metrics.cancelled.labels(API).inc()
                return
            await self._expired(exchange)
        except Exception as exc:
            if not is_database_timeout(exc):
                raise
            await self._expired(exchange)

    async def _expired(self, exchange: _Exchange) -> None:
        self.admission.metrics.deadline_exceeded.labels(API).inc()
        if not exchange.response_started:
            expiry = self.admission.expiry()
            await self._answer(
                exchange.send_downstream, STATUS[expiry.reason], expiry.reason, expiry.detail
            )

    async def _answer(self, send: Send, status: int, reason: str, detail: str) -> None:
        retry_after = self.admission.limits.retry_after_seconds
        body = json.dumps(
            {"detail": detail, "reason": reason, "retry_after_seconds": retry_after}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _has_body(scope: Scope) -> bool:
    headers = dict(scope.get("headers") or ())
    return b"transfer-encoding" in headers or headers.get(b"content-length", b"0") != b"0"


class _Exchange:
    """One request's receive and send, watched for the caller going away.

    The server reports a disconnect only to a `receive` call, which an app
    makes while it reads the body and not after. So once the body has been
    read (at once, for a request without one), a watcher waits on `receive`.
    """

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self.send_downstream = send
        self._receive = receive
        self._early: Message | None = None
        self._watcher: asyncio.Task[None] | None = None
        # The request's deadline: expired at once when the caller goes away,
        # disarmed once the response begins (a stream may take its time).
        self.timer: asyncio.Timeout | None = None
        self.disconnected = False
        self.response_started = False
        self.response_done = False

    async def start_watching_if_bodiless(self) -> None:
        if not _has_body(self.scope):
            self._early = await self._receive()
            self._watch()

    async def receive(self) -> Message:
        if self._early is not None:
            message, self._early = self._early, None
            return message
        message = await self._receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            self._watch()
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.response_started = True
            if self.timer is not None:
                self.timer.reschedule(None)
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.response_done = True
        await self.send_downstream(message)

    def _watch(self) -> None:
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._wait_for_disconnect())

    async def _wait_for_disconnect(self) -> None:
        message = await self._receive()
        # The server also says "disconnect" once the response is complete.
        if message["type"] == "http.disconnect" and not self.response_done:
            self.disconnected = True
            if self.timer is not None:
                self.timer.reschedule(-1)

    def stop_watching(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
