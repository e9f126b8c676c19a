"""The five services as child processes, and how to tell they are ready."""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from labelmesh.devstack.processes import ManagedProcess

SERVICE_NAMES = ("ingest", "inference", "annotation", "review", "audit")
DEFAULT_PORTS = {
    "ingest": (8081, 50051),
    "inference": (8082, 50052),
    "annotation": (8083, 50053),
    "review": (8084, 50054),
    "audit": (8085, 50055),
}
READY_DEADLINE_SECONDS = 120.0


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
