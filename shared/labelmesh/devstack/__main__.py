"""`make run`: the embedded Kafka broker and MongoDB server, then every service.

Kafka and MongoDB are started here unless LABELMESH_KAFKA_BOOTSTRAP_SERVERS or
LABELMESH_MONGO_URI point elsewhere; a service's ports can be moved with
LABELMESH_<SERVICE>_REST_PORT and _GRPC_PORT. Ctrl-C stops everything within
10 s: all services at once, then the broker and the database, each group
killed if it outlives its grace. A second Ctrl-C kills everything at once.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from labelmesh.devstack.infra import secantus_server, start_and_wait, tansu_broker
from labelmesh.devstack.processes import ManagedProcess, StartupFailed, stop_all
from labelmesh.devstack.services import (
    DEFAULT_PORTS,
    SERVICE_NAMES,
    STOP_GRACE_SECONDS,
    ServiceAddress,
    start_services,
)

KAFKA_PORT = 9092
MONGO_PORT = 27017
# The broker and the database stop after the services; with the services'
# grace this keeps the whole stop within 10 s.
INFRA_STOP_GRACE_SECONDS = 3.0


def say(message: str) -> None:
    print(message, flush=True)


def service_addresses(environ: Mapping[str, str]) -> list[ServiceAddress]:
    """Each service on its default ports, unless its port variables say otherwise."""
    addresses = []
    for name in SERVICE_NAMES:
        rest, grpc = DEFAULT_PORTS[name]
        prefix = f"LABELMESH_{name.upper()}_"
        rest = int(environ.get(prefix + "REST_PORT", rest))
        grpc = int(environ.get(prefix + "GRPC_PORT", grpc))
        addresses.append(ServiceAddress(name, rest, grpc))
    return addresses


def shut_down(services: Sequence[ManagedProcess], infra: Sequence[ManagedProcess]) -> None:
    """Services first, all at once, then the broker and database; bounded throughout."""
    began = time.monotonic()
    try:
        killed = stop_all(services, STOP_GRACE_SECONDS)
        killed += stop_all(infra, INFRA_STOP_GRACE_SECONDS)
    except KeyboardInterrupt:
        stop_all([*services, *infra], 0)
        killed = []
    for process in killed:
        say(f"  {process.name} did not stop in time and was killed")
    say(f"stopped after {time.monotonic() - began:.1f}s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path(".data"))
    parser.add_argument("--kafka-port", type=int, default=KAFKA_PORT)
    parser.add_argument("--mongo-port", type=int, default=MONGO_PORT)
    args = parser.parse_args()
    data_dir: Path = args.data_dir.resolve()
    logs = data_dir / "logs"
    admin_key = data_dir / "admin.key"
    env = {
        "LABELMESH_MEDIA_DIR": str(data_dir / "media"),
        "LABELMESH_ACCESS_BOOTSTRAP_KEY_FILE": str(admin_key),
    }
    env.update({k: v for k, v in os.environ.items() if k.startswith("LABELMESH_")})
    had_admin_key = Path(env["LABELMESH_ACCESS_BOOTSTRAP_KEY_FILE"]).exists()
    infra: list[ManagedProcess] = []
    services: list[ManagedProcess] = []

    # Ctrl-C even when started in the background (which would ignore SIGINT).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if "LABELMESH_KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
            kafka_port = args.kafka_port
            say(f"starting Kafka broker (Tansu) on 127.0.0.1:{kafka_port} ...")
            broker = tansu_broker(kafka_port, logs / "tansu.log")
            infra.append(broker)
            start_and_wait(broker, kafka_port)
            env["LABELMESH_KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{kafka_port}"
        if "LABELMESH_MONGO_URI" not in os.environ:
            mongo_port = args.mongo_port
            say(f"starting MongoDB server (SecantusDB) on 127.0.0.1:{mongo_port} ...")
            database = secantus_server(mongo_port, data_dir / "mongo", logs / "secantusdb.log")
            infra.append(database)
            start_and_wait(database, mongo_port)
            env["LABELMESH_MONGO_URI"] = f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true"

        addresses = service_addresses(os.environ)
        say("starting " + ", ".join(SERVICE_NAMES) + " ...")
        services += start_services(
            addresses,
            env,
            logs,
            on_ready=lambda a, seconds: say(f"  {a.name} ready after {seconds:.1f}s"),
        )

        say("\nLabelMesh is running. Logs: " + str(logs))
        say(f"{'service':<12} {'REST':<24} {'gRPC':<18} metrics")
        for a in addresses:
            say(f"{a.name:<12} {a.rest:<24} {a.grpc:<18} {a.metrics}")
        key_file = Path(env["LABELMESH_ACCESS_BOOTSTRAP_KEY_FILE"])
        if not had_admin_key and key_file.exists():
            say(f"\nThe first admin key, shown this once (it is kept in {key_file}):")
            say(f"  {key_file.read_text().strip()}")
            say("Send it as 'Authorization: Bearer <key>'; create other keys with it.")
        say("\nPress Ctrl-C to stop.")
        while all(p.running() for p in [*infra, *services]):
            time.sleep(0.5)
        crashed = [p for p in [*infra, *services] if not p.running()]
        say(f"{crashed[0].name} stopped unexpectedly\n{crashed[0].log_tail()}")
        return 1
    except KeyboardInterrupt:
        say("\nstopping ...")
        return 0
    except StartupFailed as exc:
        say(f"startup failed: {exc}")
        return 1
    finally:
        shut_down(services, infra)


if __name__ == "__main__":
    sys.exit(main())
