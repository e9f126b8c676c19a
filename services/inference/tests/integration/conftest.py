"""A real MLServer, standing in for a team's own model server.

A test module provides `mlserver_repository`, a directory holding one folder
per model with its `model-settings.json`; the server serves all of them on free
ports, once per module. Start-up waits with a deadline and fails with
MLServer's log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from labelmesh.devstack.processes import ManagedProcess, StartupFailed, free_port, port_open

REPOSITORY_ROOT = Path(__file__).resolve().parents[4]
MLSERVER = REPOSITORY_ROOT / ".tools" / "mlserver" / "bin" / "mlserver"
START_DEADLINE_SECONDS = 60.0
LOG_LINES_ON_FAILURE = 150


@dataclass(frozen=True)
class MLServerPorts:
    http: int
    grpc: int
    metrics: int


def write_server_settings(repository: Path, ports: MLServerPorts) -> None:
    settings = {
        "host": "127.0.0.1",
        "http_port": ports.http,
        "grpc_port": ports.grpc,
        "metrics_port": ports.metrics,
        # Inference in the server's own process: no worker pool to spawn.
        "parallel_workers": 0,
        "debug": False,
        "metrics_dir": str(repository / ".metrics"),
        "environments_dir": str(repository / ".envs"),
    }
    (repository / "settings.json").write_text(json.dumps(settings, indent=2))


def models_ready(ports: MLServerPorts) -> bool:
    """MLServer's ready endpoint answers 200 once every model has loaded."""
    if not port_open("127.0.0.1", ports.grpc):
        return False
    try:
        response = httpx.get(f"http://127.0.0.1:{ports.http}/v2/health/ready", timeout=1.0)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


@pytest.fixture(scope="module")
def mlserver(mlserver_repository: Path) -> Iterator[MLServerPorts]:
    """MLServer serving the module's `mlserver_repository`."""
    if not MLSERVER.exists():
        pytest.fail(f"MLServer is not installed at {MLSERVER}; run `make setup`")
    ports = MLServerPorts(http=free_port(), grpc=free_port(), metrics=free_port())
    write_server_settings(mlserver_repository, ports)
    server = ManagedProcess(
        "mlserver",
        [str(MLSERVER), "start", str(mlserver_repository)],
        mlserver_repository / "mlserver.log",
        cwd=mlserver_repository,
    )
    server.start()
    try:
        server.wait_until(lambda: models_ready(ports), START_DEADLINE_SECONDS)
    except StartupFailed as exc:
        server.stop()
        # A model that fails to load makes MLServer exit with status 0, and its
        # traceback is followed by some 25 lines of shutdown, so show more log.
        pytest.fail(f"{str(exc).splitlines()[0]}\n{server.log_tail(LOG_LINES_ON_FAILURE)}")
    yield ports
    server.stop()


@pytest.fixture(scope="module")
def mlserver_rest_url(mlserver: MLServerPorts) -> str:
    return f"http://127.0.0.1:{mlserver.http}"


@pytest.fixture(scope="module")
def mlserver_grpc_url(mlserver: MLServerPorts) -> str:
    return f"127.0.0.1:{mlserver.grpc}"
