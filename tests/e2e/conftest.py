"""The five services as real processes against the session's broker and database."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from labelmesh.devstack.processes import ManagedProcess, free_port
from labelmesh.devstack.services import (
    READY_DEADLINE_SECONDS,
    SERVICE_NAMES,
    ServiceAddress,
    ready,
    service_process,
)


@pytest.fixture(scope="session")
def stack(
    kafka_bootstrap: str, mongo_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceAddress]]:
    """Every service running, keyed by name; their logs are shown if one fails to start."""
    root: Path = tmp_path_factory.mktemp("stack")
    env = {
        "LABELMESH_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "LABELMESH_MONGO_URI": mongo_uri,
        "LABELMESH_TOPIC_PREFIX": "e2e",
        "LABELMESH_MONGO_DATABASE": "e2e",
        "LABELMESH_MEDIA_DIR": str(root / "media"),
        "LABELMESH_OUTBOX_POLL_SECONDS": "0.05",
    }
    addresses = {n: ServiceAddress(n, free_port(), free_port()) for n in SERVICE_NAMES}
    processes: list[ManagedProcess] = []
    try:
        for address in addresses.values():
            processes.append(service_process(address, env, root / "logs"))
            processes[-1].start()
        for address, process in zip(addresses.values(), processes, strict=True):
            process.wait_until(functools.partial(ready, address), READY_DEADLINE_SECONDS)
        yield addresses
    finally:
        for process in processes:
            process.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, headers={"X-LabelMesh-User": "dana"}) as http:
        yield http
