"""The SDK's uploads against the raw API, on ingest as `make run` starts it:

- 100,000 texts through `items.upload` with its defaults, beside the same
  number sent as pre-encoded requests of 1,000, four in flight (target: the
  SDK within 20 % of the raw rate);
- 10,000 images of about 100 KB each (target: at least 300 a second);
- 20,000 texts in 200 requests through a proxy that fails 10 % of them, half
  after ingest stored their batch, then `retry_from_log`: the log must end with
  every record stored or a duplicate of itself, and the project must hold each
  text exactly once.
"""

from __future__ import annotations

import asyncio
import io
import random
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from PIL import Image
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bench.imports import SERVICE, announce_project, rest_rate, text, wait_for_project
from labelmesh.core.mongo import connect
from labelmesh.devstack.infra import running_infrastructure
from labelmesh.devstack.keys import StackKeys
from labelmesh.devstack.services import ServiceAddress, running_services, stack_env
from labelmesh.sdk import AsyncClient, Endpoints, UploadRecord
from labelmesh.sdk.endpoints import SERVICES
from labelmesh.sdk.upload_log import latest
from labelmesh.testing.faults import faulty_proxy

TEXTS = 100_000
IMAGES = 10_000
FAULTY_TEXTS = 20_000
FAILURE_RATE = 0.1
# Small batches, so that a tenth of the requests is a fair sample.
FAULTY_BATCH = 100
# Uncompressed noise: each PNG is about 100 KB, like a small photo.
IMAGE_SIDE = 182


def image(seed: int) -> bytes:
    noise = random.Random(seed).randbytes(IMAGE_SIDE * IMAGE_SIDE * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (IMAGE_SIDE, IMAGE_SIDE), noise).save(out, "PNG", compress_level=0)
    return out.getvalue()


def endpoints(ingest: str) -> Endpoints:
    # Only ingest is called; the other services are not started.
    return Endpoints({name: ingest for name in SERVICES})


async def new_project(bootstrap: str, address: ServiceAddress, auth: Mapping[str, str]) -> str:
    project = str(uuid.uuid4())
    await announce_project(bootstrap, "sdk", project)
    await wait_for_project(address, project, auth)
    return project


async def sdk_rate(
    address: ServiceAddress,
    credential: str,
    project: str,
    records: list[UploadRecord],
    label: str,
    log: Path,
) -> float:
    async with AsyncClient(endpoints(address.rest), credential) as client:
        with Progress(transient=True) as bar:
            task = bar.add_task(label, total=len(records))
            report = await client.items.upload(
                project,
                records,
                log=log,
                progress=lambda r: bar.update(task, completed=r.done),
            )
    if report.stored != len(records):
        raise AssertionError(f"{label}: {report.failed} failed, {report.duplicates} duplicates")
    return len(records) / report.elapsed


async def retried(
    address: ServiceAddress, credential: str, project: str, mongo_uri: str, log: Path
) -> dict[str, float]:
    run = uuid.uuid4().hex[:8]
    records = [UploadRecord(f"r{n}", text=text(f"faulty {run}", n)) for n in range(FAULTY_TEXTS)]
    with faulty_proxy(address.rest, FAILURE_RATE, seed=13) as (url, counts):
        async with AsyncClient(endpoints(url), credential) as flaky:
            first = await flaky.items.upload(project, records, log=log, batch_size=FAULTY_BATCH)
    started = time.perf_counter()
    async with AsyncClient(endpoints(address.rest), credential) as client:
        again = await client.items.retry_from_log(project, log)
    retry_seconds = time.perf_counter() - started
    entries = latest(log)
    statuses = {entry.status for entry in entries.values()}
    distinct = {entry.item_id for entry in entries.values()}
    database = connect(mongo_uri)
    try:
        items = database[f"sdk_{SERVICE}"]["items"]
        stored = await items.count_documents({"project_id": project, "text": {"$regex": run}})
    finally:
        await database.close()
    lost = FAULTY_TEXTS - len(entries) + sum(1 for e in entries.values() if e.status == "failed")
    return {
        "failed first": first.failed,
        "requests failed": counts.failed,
        "after the service stored them": counts.failed_after,
        "retried, stored": again.stored,
        "retried, duplicates": again.duplicates,
        "retry seconds": retry_seconds,
        "lost": lost,
        "doubled": stored - len(distinct),
        "statuses": float(statuses <= {"stored", "duplicate"}),
    }


async def _run(
    address: ServiceAddress, bootstrap: str, mongo_uri: str, credential: str, root: Path
) -> Table:
    auth = {"Authorization": f"Bearer {credential}"}
    console = Console()
    # The collection grows as the runs go, which slows later inserts: the raw
    # API and the SDK take turns, half their texts at a time.
    console.print(f"sdk: {TEXTS:,} texts over the raw API and through the SDK, by halves ...")
    raw_project = await new_project(bootstrap, address, auth)
    sdk_project = await new_project(bootstrap, address, auth)
    run = uuid.uuid4().hex[:8]
    half = TEXTS // 2
    raw_seconds = sdk_seconds = 0.0
    for turn in range(2):
        raw_texts = [text(f"raw {turn} {run}", n) for n in range(half)]
        raw_seconds += half / await rest_rate(address, raw_project, raw_texts, auth, in_flight=4)
        texts = [UploadRecord(f"t{n}", text=text(f"sdk {turn} {run}", n)) for n in range(half)]
        log = root / f"texts-{turn}.jsonl"
        sdk_seconds += half / await sdk_rate(address, credential, sdk_project, texts, "texts", log)
    raw, sdk = TEXTS / raw_seconds, TEXTS / sdk_seconds
    console.print(f"sdk: making {IMAGES:,} images of about 100 KB ...")
    images = [UploadRecord(f"i{n}.png", data=image(n), filename=f"i{n}.png") for n in range(IMAGES)]
    size = sum(len(r.data or b"") for r in images) / IMAGES
    image_project = await new_project(bootstrap, address, auth)
    pictures = await sdk_rate(
        address, credential, image_project, images, "images", root / "images.jsonl"
    )
    console.print(f"sdk: {FAULTY_TEXTS:,} texts with {FAILURE_RATE:.0%} of requests failing ...")
    faulty_project = await new_project(bootstrap, address, auth)
    faults = await retried(address, credential, faulty_project, mongo_uri, root / "faulty.jsonl")

    table = Table("measure", "figure", "target", title="SDK uploads")
    ratio = sdk / raw
    table.add_row("raw API, texts (1,000 a request, 4 in flight)", f"{raw:,.0f}/s", "")
    table.add_row("SDK, texts (defaults)", f"{sdk:,.0f}/s ({ratio:.0%} of raw)", ">= 80 % of raw")
    table.add_row(f"SDK, images of {size / 1000:,.0f} KB", f"{pictures:,.0f}/s", ">= 300/s")
    table.add_row(
        f"{FAILURE_RATE:.0%} failures: requests failed (after storing)",
        f"{faults['requests failed']:,.0f} ({faults['after the service stored them']:,.0f})",
        "",
    )
    table.add_row("  records failed, then retried", f"{faults['failed first']:,.0f}", "")
    table.add_row(
        "  retry: stored, duplicates of what was stored before its answer was lost",
        f"{faults['retried, stored']:,.0f}, {faults['retried, duplicates']:,.0f}",
        "",
    )
    table.add_row("  lost, doubled", f"{faults['lost']:,.0f}, {faults['doubled']:,.0f}", "0, 0")
    return table


def bench_sdk() -> None:
    with tempfile.TemporaryDirectory(prefix="labelmesh-sdk-") as tmp:
        root = Path(tmp)
        print("sdk: starting broker, database, access and ingest ...", flush=True)
        with running_infrastructure(root) as infra:
            env = {
                **stack_env(infra.bootstrap, infra.mongo_uri, "sdk", root),
                "LABELMESH_LOG_LEVEL": "WARNING",
            }
            with running_services(env, root / "logs", names=["access", SERVICE]) as addresses:
                credential = StackKeys.of(addresses, root).admin_key
                table = asyncio.run(
                    _run(addresses[SERVICE], infra.bootstrap, infra.mongo_uri, credential, root)
                )
    Console().print(table)


if __name__ == "__main__":
    bench_sdk()
