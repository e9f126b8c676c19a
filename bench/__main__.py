"""`make bench`: throughput of the event bus, of the whole labelling path, of
review scoring and of each built-in model, what the database alone does, then
the scale scenario (import, claim, submit, queue stats, review and model at
1k, 100k and 1M tasks).

Starts its own broker, database and services on free ports, so it never
touches the data of `make run`. Prints progress and the figures.
`--only models` runs the model benchmark alone, without broker or database;
`--only database` the database's own costs per write;
`--only scale --sizes 1000,100000` the scale scenario at the sizes given;
`--only audit --audit-entries 100000` the audit log's queries and export at that size;
`--only datasets --dataset-items 100000` versions and exports of that many items;
`--only browse --browse-items 100000` a page of each item listing filter at that size;
`--only buckets --bucket-objects 100000` a bucket sync of that many objects on
moto's S3 server, then of 1,000 more;
`--only sdk` the SDK's uploads of texts and images beside the raw API's, and its
retries after injected failures;
`--only compare` (`make bench-compare`, not part of the default run) the same
workloads against Label Studio and LabelMesh.
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
from labelmesh.devstack.infra import running_infrastructure

SCALE_SIZES = (1_000, 100_000, 1_000_000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000, help="envelopes through the bus")
    parser.add_argument("--items", type=int, default=1_000, help="text items through the path")
    parser.add_argument(
        "--review-items", type=int, default=2_000, help="items of 3 annotations through review"
    )
    parser.add_argument(
        "--only",
        choices=(
            "infra",
            "models",
            "database",
            "scale",
            "audit",
            "datasets",
            "browse",
            "buckets",
            "sdk",
            "compare",
        ),
        help="run only the bus, path and review; the models; the database alone; "
        "the scale scenario; the audit log's queries; dataset versions and exports; "
        "item listings; bucket sync; the SDK's uploads; or the comparison with Label Studio",
    )
    parser.add_argument(
        "--audit-entries",
        type=int,
        default=1_000_000,
        help="entries loaded into the audit log before its queries are timed",
    )
    parser.add_argument(
        "--dataset-items",
        type=int,
        default=1_000_000,
        help="accepted items (one annotation each) seeded before versions and exports are timed",
    )
    parser.add_argument(
        "--browse-items",
        type=int,
        default=100_000,
        help="items of every status seeded before a page of each listing filter is timed",
    )
    parser.add_argument(
        "--bucket-objects",
        type=int,
        default=100_000,
        help="objects in the bucket before its first sync",
    )
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=",".join(str(size) for size in SCALE_SIZES),
        help="task counts of the scale scenario, comma-separated",
    )
    parser.add_argument(
        "--compare-items", type=int, default=10_000, help="texts imported into each tool"
    )
    args = parser.parse_args()
    # Imported when needed: the model modules are heavy, and Label Studio's
    # client is of no use to the other benchmarks.
    if args.only == "compare":
        from bench.compare import Workload, bench_compare

        bench_compare(Workload(items=args.compare_items))
        return 0
    if args.only in (None, "infra"):
        _bench_infra(args.events, args.items, args.review_items)
    if args.only in (None, "models"):
        from bench.models import bench_models

        print()
        asyncio.run(bench_models())
    if args.only in (None, "database"):
        from bench.database import bench_database

        print()
        bench_database()
    if args.only in (None, "scale"):
        from bench.scale import bench_scale

        print()
        bench_scale(args.sizes)
    if args.only in (None, "audit"):
        from bench.audit import bench_audit

        print()
        bench_audit(args.audit_entries)
    if args.only in (None, "datasets"):
        from bench.datasets import bench_datasets

        print()
        bench_datasets(args.dataset_items)
    if args.only in (None, "browse"):
        from bench.browse import bench_browse

        print()
        bench_browse(args.browse_items)
    if args.only in (None, "buckets"):
        from bench.buckets import bench_buckets

        print()
        bench_buckets(args.bucket_objects)
    if args.only in (None, "sdk"):
        from bench.sdk import bench_sdk

        print()
        bench_sdk()
    return 0


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        message = f"--sizes takes task counts like 1000,100000: {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--sizes needs counts of at least 1: {text!r}")
    return sizes


def _bench_infra(events: int, items: int, review_items: int) -> None:
    with tempfile.TemporaryDirectory(prefix="labelmesh-bench-") as tmp:
        root = Path(tmp)
        print("starting broker and database ...", flush=True)
        with running_infrastructure(root) as infra:
            bootstrap, mongo_uri = infra.bootstrap, infra.mongo_uri
            bus_rate = asyncio.run(bench_bus(bootstrap, events))
            path_rate = bench_path(bootstrap, mongo_uri, root, items)
            scored_rate, p95 = bench_review(bootstrap, mongo_uri, root, review_items)
    print()
    print(f"bus:  {bus_rate:10,.0f} events/s  (produce + consume of {events:,} envelopes)")
    print(f"path: {path_rate:10,.1f} items/s   ({items:,} text items, upload to ItemCompleted)")
    print(f"review: {scored_rate:8,.0f} annotations scored/s  ({review_items:,} items x 3)")
    print(f"review: {p95 * 1000:8,.0f} ms p95, AnnotationSubmitted to ReviewDecided")


if __name__ == "__main__":
    sys.exit(main())
