"""Admission control for the gRPC API, as a server interceptor.

Shed: RESOURCE_EXHAUSTED (UNAVAILABLE while the service shuts down), with
`retry-after` (seconds) and gRPC's own `grpc-retry-pushback-ms` in the
trailing metadata. Past the deadline:
DEADLINE_EXCEEDED. A unary call's deadline is the shorter of the service's and
the caller's; a streaming call's is an idle limit, renewed by every message,
so that a long upload that keeps moving is not cut off; for a stream of
responses, each must come within the deadline of the one before.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from typing import Any

import grpc

from labelmesh.core.admission import (
    DEADLINE_EXCEEDED,
    OVERLOADED,
    SHUTTING_DOWN,
    Admission,
    is_database_timeout,
)

API = "grpc"
STATUS = {
    OVERLOADED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    SHUTTING_DOWN: grpc.StatusCode.UNAVAILABLE,
    DEADLINE_EXCEEDED: grpc.StatusCode.DEADLINE_EXCEEDED,
}
# grpc ships no type hints: its handlers and servicer callables are untyped.
Handler = Any
Behaviour = Callable[..., Any]


class GrpcAdmission(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, admission: Admission, exempt_prefixes: Collection[str]) -> None:
        self.admission = admission
        self.exempt_prefixes = tuple(exempt_prefixes)
        self._wrapped: dict[str, Handler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[Any], Awaitable[Handler]],
        handler_call_details: Any,
    ) -> Handler:
        method: str = handler_call_details.method
        handler = await continuation(handler_call_details)
        if handler is None or method.startswith(self.exempt_prefixes):
            return handler
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            wrapped = self._wrapped[method] = self._wrap(handler)
        return wrapped

    def _wrap(self, handler: Handler) -> Handler:
        codec = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(self._unary(handler.unary_unary), **codec)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._client_stream(handler.stream_unary), **codec
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._server_stream(handler.unary_stream), **codec
            )
        return grpc.stream_stream_rpc_method_handler(
            self._server_stream(handler.stream_stream), **codec
        )

    def _unary(self, behaviour: Behaviour) -> Behaviour:
        async def admitted(request: Any, context: grpc.aio.ServicerContext) -> Any:
            async with self._slot(context), self._bounded(context, self._deadline(context)):
                return await behaviour(request, context)

        return admitted

    def _client_stream(self, behaviour: Behaviour) -> Behaviour:
        async def admitted(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> Any:
            seconds = self.admission.limits.deadline_seconds
            async with (
                self._slot(context, stream=True),
                self._bounded(context, seconds, stream=True) as timer,
            ):
                return await behaviour(_renewing(requests, timer, seconds), context)

        return admitted

    def _server_stream(self, behaviour: Behaviour) -> Behaviour:
        if not inspect.isasyncgenfunction(behaviour):
            # It writes through context.write: bound like a unary call.
            return self._unary(behaviour)

        # Each response must come within the deadline of the one before.
        async def admitted(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            seconds = self.admission.limits.deadline_seconds
            async with self._slot(context, stream=True):
                responses = aiter(behaviour(request, context))
                while True:
                    async with self._bounded(context, seconds, stream=True):
                        try:
                            response = await anext(responses)
                        except StopAsyncIteration:
                            return
                    yield response

        return admitted

    def _deadline(self, context: grpc.aio.ServicerContext) -> float:
        """The service's deadline, or the caller's if that comes sooner."""
        seconds = self.admission.limits.deadline_seconds
        caller = context.time_remaining()
        return seconds if caller is None else max(min(seconds, caller), 0.001)

    @asynccontextmanager
    async def _slot(
        self, context: grpc.aio.ServicerContext, *, stream: bool = False
    ) -> AsyncIterator[None]:
        async with self.admission.slot(API, stream=stream) as refusal:
            if refusal is not None:
                retry_after = self.admission.limits.retry_after_seconds
                await context.abort(
                    STATUS[refusal.reason],
                    refusal.detail,
                    trailing_metadata=(
                        ("retry-after", str(retry_after)),
                        ("grpc-retry-pushback-ms", str(retry_after * 1000)),
                    ),
                )
            yield

    @asynccontextmanager
    async def _bounded(
        self, context: grpc.aio.ServicerContext, seconds: float, *, stream: bool = False
    ) -> AsyncIterator[asyncio.Timeout]:
        """Run the block within `seconds`; past them, answer DEADLINE_EXCEEDED.

        A stream's MongoDB commands are not bound to its first deadline, which renews.
        """
        timer: asyncio.Timeout | None = None
        try:
            async with self.admission.deadline(seconds, bound_database=not stream) as timer:
                yield timer
        except TimeoutError:
            if timer is None or not timer.expired():
                raise
            await self._expired(context)
        except asyncio.CancelledError:
            # The caller cancelled, or its own deadline passed.
            self.admission.metrics.cancelled.labels(API).inc()
            raise
        except Exception as exc:
            if not is_database_timeout(exc):
                raise
            await self._expired(context)

    async def _expired(self, context: grpc.aio.ServicerContext) -> None:
        self.admission.metrics.deadline_exceeded.labels(API).inc()
        expiry = self.admission.expiry()
        await context.abort(STATUS[expiry.reason], expiry.detail)


async def _renewing(
    requests: AsyncIterator[Any], timer: asyncio.Timeout, seconds: float
) -> AsyncIterator[Any]:
    """The caller's messages; each one renews the call's deadline."""
    loop = asyncio.get_running_loop()
    async for request in requests:
        timer.reschedule(loop.time() + seconds)
        yield request
