"""The services as child processes, and how to tell they are ready."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from labelmesh.devstack.processes import ManagedProcess, free_port, stop_all

# Access first: every other service asks it who its callers are.
SERVICE_NAMES = ("access", "ingest", "inference", "annotation", "review", "audit", "dataset")
DEFAULT_PORTS = {
    "access": (8086, 50056),
    "ingest": (8081, 50051),
    "inference": (8082, 50052),
    "annotation": (8083, 50053),
    "review": (8084, 50054),
    "audit": (8085, 50055),
    "dataset": (8087, 50057),
}
READY_DEADLINE_SECONDS = 120.0
# A service shuts itself down within LABELMESH_SHUTDOWN_GRACE_SECONDS (4 s by
# default); this is how long it is given before it is killed.
STOP_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class ServiceAddress:
    name: str
    rest_port: int
    grpc_port: int

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def grpc(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def metrics(self) -> str:
        return f"{self.rest}/metrics"


def stack_env(bootstrap: str, mongo_uri: str, name: str, root: Path) -> dict[str, str]:
    """Environment for services on a given broker and database, with topics,
    database and media of their own named `name`, and the first admin key
    under `root`."""
    return {
        "LABELMESH_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "LABELMESH_MONGO_URI": mongo_uri,
        "LABELMESH_TOPIC_PREFIX": name,
        "LABELMESH_MONGO_DATABASE": name,
        "LABELMESH_MEDIA_DIR": str(root / "media"),
        "LABELMESH_ACCESS_BOOTSTRAP_KEY_FILE": str(admin_key_file(root)),
    }


def admin_key_file(root: Path) -> Path:
    """Where the access service of a stack rooted at `root` keeps its first admin key."""
    return root / "admin.key"


def ready(address: ServiceAddress) -> bool:
    try:
        with urllib.request.urlopen(f"{address.rest}/readyz", timeout=1) as response:
            return bool(json.load(response).get("ready"))
    except (OSError, ValueError):
        return False


def service_process(
    address: ServiceAddress, env: Mapping[str, str], log_dir: Path
) -> ManagedProcess:
    prefix = f"LABELMESH_{address.name.upper()}_"
    return ManagedProcess(
        address.name,
        [sys.executable, "-m", f"labelmesh.{address.name}"],
        log_dir / f"{address.name}.log",
        env={
            **env,
            prefix + "REST_PORT": str(address.rest_port),
            prefix + "GRPC_PORT": str(address.grpc_port),
            "HF_HUB_OFFLINE": "1",
        },
    )


def start_services(
    addresses: Sequence[ServiceAddress],
    env: Mapping[str, str],
    log_dir: Path,
    on_ready: Callable[[ServiceAddress, float], None] = lambda address, seconds: None,
) -> list[ManagedProcess]:
    """Start every service, then wait for each to report ready; stop all if one fails."""
    access = next((a for a in addresses if a.name == "access"), None)
    if access is not None and "LABELMESH_ACCESS_GRPC_TARGET" not in env:
        env = {**env, "LABELMESH_ACCESS_GRPC_TARGET": access.grpc}
    processes = [service_process(address, env, log_dir) for address in addresses]
    try:
        for process in processes:
            process.start()
        began = time.monotonic()
        for address, process in zip(addresses, processes, strict=True):
            process.wait_until(functools.partial(ready, address), READY_DEADLINE_SECONDS)
            on_ready(address, time.monotonic() - began)
    except BaseException:
        stop_all(processes, STOP_GRACE_SECONDS)
        raise
    return processes


@contextlib.contextmanager
def running_services(
    env: Mapping[str, str], log_dir: Path, names: Sequence[str] = SERVICE_NAMES
) -> Iterator[dict[str, ServiceAddress]]:
    """The named services (all of them by default) on free ports for the duration of the
    block, keyed by name."""
    addresses = {n: ServiceAddress(n, free_port(), free_port()) for n in names}
    processes = start_services(list(addresses.values()), env, log_dir)
    try:
        yield addresses
    finally:
        stop_all(processes, STOP_GRACE_SECONDS)
