"""`make run`: the embedded Kafka broker and MongoDB server, then every service.

Kafka and MongoDB are started here unless LABELMESH_KAFKA_BOOTSTRAP_SERVERS or
LABELMESH_MONGO_URI point elsewhere. Ctrl-C stops everything, services first.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from labelmesh.devstack.infra import secantus_server, start_and_wait, tansu_broker
from labelmesh.devstack.processes import ManagedProcess, StartupFailed
from labelmesh.devstack.services import (
    DEFAULT_PORTS,
    SERVICE_NAMES,
    ServiceAddress,
    start_services,
)

KAFKA_PORT = 9092
MONGO_PORT = 27017


def say(message: str) -> None:
    print(message, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path(".data"))
    args = parser.parse_args()
    data_dir: Path = args.data_dir.resolve()
    logs = data_dir / "logs"
    env = {"LABELMESH_MEDIA_DIR": str(data_dir / "media")}
    env.update({k: v for k, v in os.environ.items() if k.startswith("LABELMESH_")})
    started: list[ManagedProcess] = []

    def stop_all(*_: object) -> None:
        for process in reversed(started):
            process.stop()

    # Ctrl-C even when started in the background (which would ignore SIGINT).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if "LABELMESH_KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
            say(f"starting Kafka broker (Tansu) on 127.0.0.1:{KAFKA_PORT} ...")
            broker = tansu_broker(KAFKA_PORT, logs / "tansu.log")
            started.append(broker)
            start_and_wait(broker, KAFKA_PORT)
            env["LABELMESH_KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{KAFKA_PORT}"
        if "LABELMESH_MONGO_URI" not in os.environ:
            say(f"starting MongoDB server (SecantusDB) on 127.0.0.1:{MONGO_PORT} ...")
            database = secantus_server(MONGO_PORT, data_dir / "mongo", logs / "secantusdb.log")
            started.append(database)
            start_and_wait(database, MONGO_PORT)
            env["LABELMESH_MONGO_URI"] = f"mongodb://127.0.0.1:{MONGO_PORT}/?directConnection=true"

        addresses = [ServiceAddress(n, *DEFAULT_PORTS[n]) for n in SERVICE_NAMES]
        say("starting " + ", ".join(SERVICE_NAMES) + " ...")
        started += start_services(
            addresses,
            env,
            logs,
            on_ready=lambda a, seconds: say(f"  {a.name} ready after {seconds:.1f}s"),
        )

        say("\nLabelMesh is running. Logs: " + str(logs))
        say(f"{'service':<12} {'REST':<24} {'gRPC':<18} metrics")
        for a in addresses:
            say(f"{a.name:<12} {a.rest:<24} {a.grpc:<18} {a.metrics}")
        say("\nPress Ctrl-C to stop.")
        while all(p.running() for p in started):
            time.sleep(0.5)
        crashed = [p for p in started if not p.running()]
        say(f"{crashed[0].name} stopped unexpectedly\n{crashed[0].log_tail()}")
        return 1
    except KeyboardInterrupt:
        say("\nstopping ...")
        return 0
    except StartupFailed as exc:
        say(f"startup failed: {exc}")
        return 1
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
