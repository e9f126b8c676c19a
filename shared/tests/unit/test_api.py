"""The REST app every service shares: the caller's trace reaches logs and the response."""

from __future__ import annotations

import httpx
from fastapi import APIRouter
from prometheus_client import CollectorRegistry

from labelmesh.core.api import rest_app
from labelmesh.core.logging import current_trace_id

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def client() -> httpx.AsyncClient:
    router = APIRouter()

    @router.get("/trace")
    async def trace() -> dict[str, str]:
        return {"seen": current_trace_id()}

    app = rest_app("test", router, CollectorRegistry(), {})
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
