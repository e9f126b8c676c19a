"""The REST app every service shares: the caller's trace reaches logs and the response."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from fastapi import APIRouter
from prometheus_client import CollectorRegistry

from labelmesh.core.api import Caller, rest_app
from labelmesh.core.logging import current_trace_id
from labelmesh.testing.access import StaticAuthenticator, bearer, principal

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def client() -> httpx.AsyncClient:
    router = APIRouter()

    @router.get("/trace")
    async def trace() -> dict[str, str]:
        return {"seen": current_trace_id()}

    @router.get("/me")
    async def me(caller: Caller) -> dict[str, str]:
        return {"subject": caller.subject}

    @router.post("/echo")
    async def echo(body: dict[str, str]) -> dict[str, int]:
        return {"fields": len(body)}

    callers = StaticAuthenticator({"good-key": principal("dana")})
    app = rest_app("test", router, CollectorRegistry(), {}, callers, max_request_bytes=1024)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_the_callers_trace_is_the_requests_trace() -> None:
    async with client() as api:
        response = await api.get("/trace", headers={"traceparent": TRACEPARENT})
    assert response.json() == {"seen": TRACE_ID}
    assert response.headers["x-trace-id"] == TRACE_ID


async def test_a_request_without_a_trace_gets_a_new_one() -> None:
    async with client() as api:
        response = await api.get("/trace")
    trace_id = response.json()["seen"]
    assert len(trace_id) == 32
    assert response.headers["x-trace-id"] == trace_id


async def test_a_route_with_a_caller_answers_401_without_a_valid_credential() -> None:
    async with client() as api:
        assert (await api.get("/me", headers=bearer("good-key"))).json() == {"subject": "dana"}
        missing = await api.get("/me")
        unknown = await api.get("/me", headers=bearer("bad-key"))
        basic = await api.get("/me", headers={"Authorization": "Basic ZGFuYTpw"})
    for refused in (missing, unknown, basic):
        assert refused.status_code == 401, refused.text
        assert refused.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in missing.json()["detail"]
    assert "bad-key" not in unknown.text  # a refused credential is never repeated


async def test_a_body_over_the_limit_is_refused_with_413_whether_declared_or_streamed() -> None:
    async with client() as api:
        assert (await api.post("/echo", json={"a": "b"})).json() == {"fields": 1}
        declared = await api.post("/echo", json={"a": "b" * 2000})

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"a": "'
            for _ in range(10):
                yield b"b" * 200
            yield b'"}'

        streamed = await api.post(
            "/echo", content=chunks(), headers={"content-type": "application/json"}
        )
    for refused in (declared, streamed):
        assert refused.status_code == 413, refused.text
        assert "larger than 1024 bytes" in refused.json()["detail"]
