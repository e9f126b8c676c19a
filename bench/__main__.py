"""`make bench`: throughput of the event bus, of the whole labelling path, of
review scoring, and of each built-in model.

Starts its own broker, database and services on free ports, so it never
touches the data of `make run`. Prints progress and one line per figure.
`--only models` runs the model benchmark alone, without broker or database.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from bench.bus import bench_bus
from bench.path import bench_path
from bench.review import bench_review
from labelmesh.devstack.infra import secantus_server, start_and_wait, tansu_broker
from labelmesh.devstack.processes import free_port


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000, help="envelopes through the bus")
    parser.add_argument("--items", type=int, default=1_000, help="text items through the path")
    parser.add_argument(
        "--review-items", type=int, default=2_000, help="items of 3 annotations through review"
    )
    parser.add_argument(
        "--only", choices=("infra", "models"), help="run only the bus and path, or only the models"
    )
    args = parser.parse_args()
    if args.only != "models":
        _bench_infra(args.events, args.items, args.review_items)
    if args.only != "infra":
        # Imported here: the model modules are heavy and the other benchmarks don't need them.
        from bench.models import bench_models

        print()
        asyncio.run(bench_models())
    return 0


def _bench_infra(events: int, items: int, review_items: int) -> None:
    with tempfile.TemporaryDirectory(prefix="labelmesh-bench-") as tmp:
        root = Path(tmp)
        kafka_port, mongo_port = free_port(), free_port()
        broker = tansu_broker(kafka_port, root / "tansu.log")
        database = secantus_server(mongo_port, None, root / "secantusdb.log")
        try:
            print("starting broker and database ...", flush=True)
            start_and_wait(broker, kafka_port)
            start_and_wait(database, mongo_port)
            bootstrap = f"127.0.0.1:{kafka_port}"
            mongo_uri = f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true"
            bus_rate = asyncio.run(bench_bus(bootstrap, events))
            path_rate = bench_path(bootstrap, mongo_uri, root, items)
            scored_rate, p95 = bench_review(bootstrap, mongo_uri, root, review_items)
        finally:
            database.stop()
            broker.stop()
    print()
    print(f"bus:  {bus_rate:10,.0f} events/s  (produce + consume of {events:,} envelopes)")
    print(f"path: {path_rate:10,.1f} items/s   ({items:,} text items, upload to ItemCompleted)")
    print(f"review: {scored_rate:8,.0f} annotations scored/s  ({review_items:,} items x 3)")
    print(f"review: {p95 * 1000:8,.0f} ms p95, AnnotationSubmitted to ReviewDecided")


if __name__ == "__main__":
    sys.exit(main())
