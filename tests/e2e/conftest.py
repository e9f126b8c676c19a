"""Every service as a real process against the session's broker and database,
called with API keys the stack's first admin key makes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from labelmesh.devstack.keys import StackKeys
from labelmesh.devstack.services import ServiceAddress, running_services, stack_env
from labelmesh.sdk import Endpoints
from labelmesh.sdk.endpoints import SERVICES

from .rest_api import RestApi


@pytest.fixture(scope="session")
def stack_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the stack keeps its media, logs and first admin key."""
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def stack(
    kafka_bootstrap: str, mongo_uri: str, stack_root: Path
) -> Iterator[dict[str, ServiceAddress]]:
    """Every service running, keyed by name; their logs are shown if one fails to start."""
    root = stack_root
    env = {
        **stack_env(kafka_bootstrap, mongo_uri, "e2e", root),
        "LABELMESH_OUTBOX_POLL_SECONDS": "0.05",
        # Buckets on the tests' S3 server, which listens on loopback, may be registered.
        "LABELMESH_INGEST_URL_ALLOW_NETWORKS": "127.0.0.0/8",
    }
    with running_services(env, root / "logs") as addresses:
        yield addresses


@pytest.fixture(scope="session")
def keys(stack: dict[str, ServiceAddress], stack_root: Path) -> StackKeys:
    return StackKeys.of(stack, stack_root)


@pytest.fixture
def client(keys: StackKeys) -> Iterator[httpx.Client]:
    """Requests carry the key of the person their body names, else the admin's."""
    with httpx.Client(timeout=30, event_hooks={"request": [keys.sign]}) as http:
        yield http


@pytest.fixture
def api(stack: dict[str, ServiceAddress], client: httpx.Client) -> RestApi:
    """The running services over REST, with the calls that the flows share."""
    return RestApi(stack, client)


@pytest.fixture
def env(stack: dict[str, ServiceAddress], keys: StackKeys, tmp_path: Path) -> dict[str, str]:
    """A CLI user's environment: logged in through variables, config and cache of their own."""
    endpoints = Endpoints({name: stack[name].rest for name in SERVICES})
    return {
        **os.environ,
        "LABELMESH_ENDPOINTS": endpoints.spec(),
        "LABELMESH_API_KEY": keys.admin_key,
        "LABELMESH_CONFIG": str(tmp_path / "config.json"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "COLUMNS": "200",
    }
