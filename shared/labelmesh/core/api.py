"""What every service's REST and gRPC adapters share: error translation,
health, readiness, the metrics endpoint and admission control."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import grpc
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from labelmesh.core.access import Principal
from labelmesh.core.admission import Admission
from labelmesh.core.admission_rest import ASGIApp, Message, Receive, RestAdmission, Scope, Send
from labelmesh.core.authentication import Authenticator, bearer_credential, grpc_credential
from labelmesh.core.config import DEFAULT_MAX_REQUEST_BYTES
from labelmesh.core.denials import record_denied
from labelmesh.core.envelopes import trace_id_from_traceparent
from labelmesh.core.errors import (
    Conflict,
    Forbidden,
    InvalidField,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from labelmesh.core.logging import log_context
from labelmesh.core.rest_proto import install_proto_openapi

ReadinessCheck = Callable[[], Awaitable[None]]
# OpenAPI names the scheme; the check itself is `rest_principal`'s.
BEARER_SCHEME = HTTPBearer(
    auto_error=False, description="An API key (lm_...) or an OIDC access token."
)
# Probes bypass admission control, so that a loaded service still reports.
PROBE_PATHS = ("/healthz", "/readyz", "/metrics")
T = TypeVar("T")


async def rest_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER_SCHEME)],
) -> Principal:
    """The authenticated caller of a REST request (401 without a valid credential)."""
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticator.authenticate(bearer_credential(request.headers.get("authorization")))


# The caller of a REST route, authenticated.
Caller = Annotated[Principal, Depends(rest_principal)]


async def grpc_principal(
    authenticator: Authenticator, context: grpc.aio.ServicerContext
) -> Principal:
    """The authenticated caller of a gRPC call (UNAUTHENTICATED without a valid credential)."""
    metadata = dict(context.invocation_metadata() or ())
    return await authenticator.authenticate(grpc_credential(metadata))


def rest_app(
    title: str,
    router: APIRouter,
    registry: CollectorRegistry,
    readiness: dict[str, ReadinessCheck],
    authenticator: Authenticator,
    admission: Admission | None = None,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
) -> FastAPI:
    """A FastAPI app with the service's routes, error mapping and probes; its
    routes authenticate with `authenticator`; with `admission`, every request
    but the probes passes its admission control. A body over
    `max_request_bytes` is refused with 413. No CORS headers are sent: browsers
    reach the services through the web front end's one origin."""
    app = FastAPI(title=title, version="0.1.0")
    app.state.authenticator = authenticator
    app.include_router(router)
    install_proto_openapi(app)

    app.add_middleware(TraceMiddleware)
    app.add_middleware(BodyLimit, max_bytes=max_request_bytes)

    @app.exception_handler(InvalidField)
    async def invalid(_: Request, exc: InvalidField) -> JSONResponse:
        detail = [{"field": exc.field, "msg": exc.reason, "type": "invalid_field"}]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(_: Request, exc: Unauthenticated) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer realm="labelmesh"'}
        return JSONResponse({"detail": str(exc)}, status_code=401, headers=headers)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> JSONResponse:
        route = request.scope.get("route")
        record_denied(exc, f"{request.method} {getattr(route, 'path', request.url.path)}")
        return JSONResponse({"detail": str(exc)}, status_code=403)

    @app.exception_handler(RateLimited)
    async def rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse({"detail": str(exc)}, status_code=429, headers=headers)

    @app.exception_handler(Unavailable)
    async def unavailable(_: Request, exc: Unavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        failures = await failed_checks(readiness)
        status = 503 if failures else 200
        return JSONResponse({"ready": not failures, "failures": failures}, status_code=status)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    if admission is not None:
        # Added last, so outermost: a shed request costs no routing or tracing.
        app.add_middleware(RestAdmission, admission=admission, exempt=PROBE_PATHS)
    return app


class BodyLimit:
    """Refuse a request body over `max_bytes` with 413: by its Content-Length,
    or, for a body streamed without one, once it has grown past the limit (such
    a body is gathered first, then handed on)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.max_bytes:
                await self._refuse(send)
                return
            # The HTTP server holds the body to its declared length.
            await self.app(scope, receive, send)
            return
        gathered: list[Message] = []
        size = 0
        while True:
            message = await receive()
            gathered.append(message)
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(send)
                return
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay() -> Message:
            return gathered.pop(0) if gathered else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = f'{{"detail": "the request body is larger than {self.max_bytes} bytes"}}'.encode()
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class TraceMiddleware:
    """Carry the caller's W3C trace into logs and every event the request causes,
    and name it in the `x-trace-id` response header.

    Plain ASGI: Starlette's `@app.middleware("http")` runs every request in a
    task group of its own, which cost more than a whole simple request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        traceparent = dict(scope["headers"]).get(b"traceparent", b"").decode("latin-1")
        trace_id = trace_id_from_traceparent(traceparent)
        header = (b"x-trace-id", trace_id.encode())

        async def send_with_trace(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        with log_context(trace_id=trace_id):
            await self.app(scope, receive, send_with_trace)


async def failed_checks(readiness: dict[str, ReadinessCheck]) -> dict[str, str]:
    """Run every readiness check with a deadline; name the ones that fail."""

    async def run(check: ReadinessCheck) -> str | None:
        try:
            await asyncio.wait_for(check(), timeout=2)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}" or "failed"
        return None

    results = await asyncio.gather(*(run(c) for c in readiness.values()))
    return {name: r for name, r in zip(readiness, results, strict=True) if r is not None}


_GRPC_CODES: list[tuple[type[Exception], grpc.StatusCode]] = [
    (InvalidField, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (Conflict, grpc.StatusCode.ABORTED),
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (Forbidden, grpc.StatusCode.PERMISSION_DENIED),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
    (RateLimited, grpc.StatusCode.RESOURCE_EXHAUSTED),
]
# The errors a gRPC method's caller hears as a status of their own.
GRPC_MAPPED_ERRORS = tuple(kind for kind, _ in _GRPC_CODES)


def grpc_status_of(exc: Exception) -> grpc.StatusCode:
    return next(code for kind, code in _GRPC_CODES if isinstance(exc, kind))


def grpc_errors(
    method: Callable[..., Awaitable[T]],
) -> Callable[..., Awaitable[T]]:
    """Translate application errors raised by a servicer method into gRPC status."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> T:
        metadata = dict(context.invocation_metadata() or ())
        trace_id = trace_id_from_traceparent(str(metadata.get("traceparent", "")))
        try:
            with log_context(trace_id=trace_id):
                return await method(self, request, context)
        except GRPC_MAPPED_ERRORS as exc:
            if isinstance(exc, Forbidden):
                record_denied(exc, method.__qualname__.replace("Servicer.", "Service/"))
            if isinstance(exc, RateLimited):
                context.set_trailing_metadata([("retry-after", str(exc.retry_after))])
            await context.abort(grpc_status_of(exc), str(exc))
            raise  # abort raises; this keeps type checkers informed

    return wrapper
