"""Every httpx client the SDK makes answers from a stand-in for ingest, so the
SDK and the CLI run unchanged against it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from labelmesh.sdk import Endpoints

from .fake_ingest import FakeIngest

ENDPOINTS = Endpoints.host("ingest.test")


@pytest.fixture
def ingest(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIngest]:
    fake = FakeIngest()
    real = httpx.AsyncClient

    def client(**options: Any) -> httpx.AsyncClient:
        return real(transport=httpx.MockTransport(fake.handle), **options)

    # The transport makes its own httpx client: it gets one wired to the fake.
    monkeypatch.setattr(httpx, "AsyncClient", client)
    monkeypatch.setenv("LABELMESH_ENDPOINTS", ENDPOINTS.spec())
    monkeypatch.setenv("LABELMESH_API_KEY", "lm_test_secret")
    monkeypatch.setenv("LABELMESH_CONFIG", "/nonexistent/labelmesh/config.json")
    yield fake
