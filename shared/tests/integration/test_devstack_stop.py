"""Ctrl-C on `make run` (the devstack launcher) stops every process it started,
within the 10 s the README promises, while clients keep the services busy."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from labelmesh.devstack.processes import free_port
from labelmesh.devstack.services import SERVICE_NAMES
from labelmesh.testing.services import wait_for

pytestmark = pytest.mark.integration
# What the product promises for Ctrl-C; the test's wait limit, not a measurement.
STOP_LIMIT_SECONDS = 10.0
START_LIMIT_SECONDS = 240.0
CLIENTS = 48


def _stat(pid: int) -> list[str] | None:
    """State, parent pid, ... of a process (after its name), or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def child_pids(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and int(stat[1]) == parent:
                children.append(int(entry.name))
    return children


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"  # a zombie has ended; it awaits reaping


class Load:
    """Clients that keep every service busy (uploads, claims, reads) until stopped."""

    def __init__(self, rest_ports: dict[str, int], admin_key: str) -> None:
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in rest_ports.items()}
        self.headers = {"Authorization": f"Bearer {admin_key}"}
        self.answered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    @contextlib.contextmanager
    def running(self) -> Iterator[Load]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(30)

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=30, headers=self.headers) as client:
            project = await self._project(client)
            await asyncio.gather(*(self._client(client, project, n) for n in range(CLIENTS)))

    async def _project(self, client: httpx.AsyncClient) -> str:
        created = await client.post(
            self.urls["annotation"] + "/v1/projects",
            json={"name": "load", "data_type": "TEXT", "classes": ["a", "b"]},
        )
        created.raise_for_status()
        project: str = created.json()["project"]["project_id"]
        return project

    async def _client(self, client: httpx.AsyncClient, project: str, n: int) -> None:
        calls = [
            ("POST", "ingest", f"/v1/projects/{project}/items", {"items": [{"text": f"t{n}"}]}),
            ("POST", "annotation", f"/v1/projects/{project}/tasks/next", {"annotator": f"a{n}"}),
            ("GET", "annotation", f"/v1/projects/{project}/queue", None),
            ("POST", "inference", "/v1/predict/text", {"project_id": project, "texts": ["x"]}),
            ("GET", "review", f"/v1/items/i{n}/reviews", None),
            ("GET", "audit", f"/v1/items/i{n}/trail", None),
        ]
        turn = n
        while not self._stop.is_set():
            method, service, path, body = calls[turn % len(calls)]
            turn += 1
            try:
                await client.request(method, self.urls[service] + path, json=body)
                self.answered += 1
            except httpx.HTTPError:
                await asyncio.sleep(0.05)  # the stack is going away


def test_ctrl_c_under_load_stops_every_process_within_10_s(tmp_path: Path) -> None:
    rest_ports = {name: free_port() for name in SERVICE_NAMES}
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELMESH_")}
    for name in SERVICE_NAMES:
        env[f"LABELMESH_{name.upper()}_REST_PORT"] = str(rest_ports[name])
        env[f"LABELMESH_{name.upper()}_GRPC_PORT"] = str(free_port())
    output = tmp_path / "devstack.out"
    with output.open("wb") as sink:
        launcher = subprocess.Popen(
            [
                *(sys.executable, "-m", "labelmesh.devstack"),
                *("--data-dir", str(tmp_path / "data")),
                *("--kafka-port", str(free_port()), "--mongo-port", str(free_port())),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    processes: list[int] = [launcher.pid]
    try:
        wait_for(
            lambda: "Press Ctrl-C" in output.read_text() or launcher.poll() is not None,
            "the devstack to start",
            within=START_LIMIT_SECONDS,
        )
        assert launcher.poll() is None, output.read_text()
        processes += child_pids(launcher.pid)
        assert len(processes) == 1 + 2 + len(SERVICE_NAMES)  # launcher, Kafka, MongoDB, services

        # The first start made an admin key, kept it under the data directory
        # and showed it once.
        admin_key = (tmp_path / "data" / "admin.key").read_text().strip()
        assert output.read_text().count(admin_key) == 1

        with Load(rest_ports, admin_key).running() as load:
            wait_for(lambda: load.answered > 100, "the load to get going", within=60)
            launcher.send_signal(signal.SIGINT)
            deadline = time.monotonic() + STOP_LIMIT_SECONDS
            while any(alive(p) for p in processes) and time.monotonic() < deadline:
                time.sleep(0.05)

        survivors = [p for p in processes if alive(p)]
        assert not survivors, f"still running {STOP_LIMIT_SECONDS:.0f} s after Ctrl-C: {survivors}"
        assert launcher.wait() == 0, output.read_text()
    finally:
        for pid in processes:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        launcher.wait()
