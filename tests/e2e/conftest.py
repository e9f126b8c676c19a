"""The five services as real processes against the session's broker and database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from labelmesh.devstack.services import ServiceAddress, running_services, stack_env

from .rest_api import RestApi


@pytest.fixture(scope="session")
def stack(
    kafka_bootstrap: str, mongo_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceAddress]]:
    """Every service running, keyed by name; their logs are shown if one fails to start."""
    root: Path = tmp_path_factory.mktemp("stack")
    env = {
        **stack_env(kafka_bootstrap, mongo_uri, "e2e", root),
        "LABELMESH_OUTBOX_POLL_SECONDS": "0.05",
    }
    with running_services(env, root / "logs") as addresses:
        yield addresses


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, headers={"X-LabelMesh-User": "dana"}) as http:
        yield http


@pytest.fixture
def api(stack: dict[str, ServiceAddress], client: httpx.Client) -> RestApi:
    """The running services over REST, with the calls that the flows share."""
    return RestApi(stack, client)
