"""The audit log at size: bulk-load N entries as the repository stores them,
then time a page of 100 for each query shape (the use case, in-process) and a
streamed JSONL export over REST from the audit service running as a process
of its own (`python -m labelmesh.audit`), read over HTTP.

The targets are stated for 10 million entries. The database keeps them on
disk: in memory they would take about 2.4 KB each. At 10 M, SecantusDB's index
builds hold every key in memory and take hours on 2 cores (services/audit/
README.md). The table says which size was measured.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry
from pymongo.asynchronous.database import AsyncDatabase
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from labelmesh.audit.adapters.repository import (
    ENTRIES as ENTRY_COLLECTION,
)
from labelmesh.audit.adapters.repository import (
    PROJECTS,
    MongoAuditRepository,
    entry_document,
    project_writes,
)
from labelmesh.audit.domain import Cursor, encode_cursor, extend_chains
from labelmesh.audit.metrics import AuditMetrics
from labelmesh.audit.records import AuditQuery, ChainHead
from labelmesh.audit.usecases import Audit
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.core.mongo import Document, MongoUnitOfWork, connect, ensure_core_indexes
from labelmesh.core.topics import Topics
from labelmesh.devstack.infra import running_infrastructure
from labelmesh.devstack.keys import StackKeys
from labelmesh.devstack.services import running_services, stack_env
from labelmesh.v1.events_pb2 import (
    AnnotationSubmitted,
    Envelope,
    ItemCompleted,
    ItemIngested,
    ProjectCreated,
    ProjectSpec,
    ReviewDecided,
    TaskCreated,
)

ENTRIES = 1_000_000
TARGET_SIZE = "10M"
PAGE = 100
PAGE_P95_TARGET_MS = 100.0
EXPORT_TARGET_PER_SECOND = 20_000.0
# Entries per insert while loading, and the database's cache.
LOAD_BATCH = 10_000
CACHE = "8G"
# Requests timed per query shape; entries exported at most.
SAMPLES = 40
EXPORT_ENTRIES = 200_000
PROJECT = "bench-audit"
DATABASE = "bench"
ACTORS = [f"annotator-{n}" for n in range(20)]
PAYLOADS = [ItemIngested, TaskCreated, AnnotationSubmitted, ReviewDecided, ItemCompleted]
# Entries per item chain, and the time between entries.
CHAIN = 5
STEP = timedelta(milliseconds=10)
T0 = datetime(2026, 1, 1, tzinfo=UTC)

console = Console()


@dataclass(frozen=True)
class Timing:
    shape: str
    p50_ms: float
    p95_ms: float
    found: float


def bench_audit(entries: int = ENTRIES) -> tuple[list[Timing], float]:
    """Start a database of its own, load `entries`, measure, print the table."""
    with (
        tempfile.TemporaryDirectory(prefix="labelmesh-audit-") as tmp,
        running_infrastructure(Path(tmp), cache_size=CACHE, on_disk=True) as infra,
    ):
        timings = asyncio.run(_measure(infra.mongo_uri, entries))
        root = Path(tmp)
        env = {
            **stack_env(infra.bootstrap, infra.mongo_uri, DATABASE, root),
            # No checkpoint pass while the export is timed.
            "LABELMESH_AUDIT_CHECKPOINT_SECONDS": "3600",
            "LABELMESH_LOG_LEVEL": "WARNING",
        }
        with (
            console.status("audit: starting the access and audit services ..."),
            running_services(env, root / "logs", names=["access", "audit"]) as addresses,
        ):
            auth = StackKeys.of(addresses, root).headers("")
            with console.status("audit: exporting JSONL over REST ..."):
                export_rate = asyncio.run(
                    _export(addresses["audit"].rest, auth, min(entries, EXPORT_ENTRIES))
                )
    console.print(table(entries, timings, export_rate))
    return timings, export_rate


def _envelope(n: int) -> Envelope:
    payload = PAYLOADS[n % CHAIN % len(PAYLOADS)]()
    envelope = new_envelope(
        payload,
        producer="bench",
        actor=user_actor(ACTORS[n % len(ACTORS)]),
        project_id=PROJECT,
        item_id=f"item-{n // CHAIN}",
    )
    envelope.occurred_at.FromDatetime(T0 + n * STEP)
    return envelope


async def _load(
    audit: Audit, uow: MongoUnitOfWork, db: AsyncDatabase[Document], count: int
) -> None:
    """Load `count` entries, then build the log's indexes.

    The entries are the documents the repository writes, inserted in large
    unordered batches outside transactions and before the indexes exist:
    SecantusDB inserts four times faster with no secondary index to keep up,
    and a 10-million-entry load through the transactional append would take
    hours. The project's log (its span and peak rate, which size the query
    windows) is kept as the append keeps it. Chain heads are not written:
    neither pages nor exports read them.
    """
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    # The project's creation comes first, as in every log: it names the
    # organisation whose members may read the project's entries.
    created = new_envelope(
        ProjectCreated(project=ProjectSpec(project_id=PROJECT)),
        producer="annotation",
        actor=user_actor("bench"),
        project_id=PROJECT,
    )
    async with uow.begin() as tx:
        await audit.record(tx, [created])
    heads: dict[str, ChainHead] = {}
    with progress:
        bar = progress.add_task("audit: loading entries", total=count)
        for first in range(0, count, LOAD_BATCH):
            batch = [_envelope(n) for n in range(first, min(count, first + LOAD_BATCH))]
            read = {c: heads[c] for c in {e.item_id for e in batch} if c in heads}
            entries = extend_chains(read, batch)
            await db[ENTRY_COLLECTION].insert_many(
                [entry_document(e) for e in entries], ordered=False
            )
            await db[PROJECTS].bulk_write(project_writes(entries))
            heads |= {e.chain: ChainHead(e.chain, e.sequence, e.hash) for e in entries}
            progress.update(bar, completed=first + len(batch))
    # One command per index, with no progress of its own to report: the
    # elapsed time shows it is still going.
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as indexing:
        indexing.add_task(f"audit: indexing {count:,} entries", total=None)
        await MongoAuditRepository(db).ensure_indexes()


async def _timed(run: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    started = time.perf_counter()
    found = await run()
    return (time.perf_counter() - started) * 1000, found


async def _shape(name: str, make: Callable[[random.Random], Awaitable[int]]) -> Timing:
    chance = random.Random(name)
    await make(chance)  # warm-up
    samples = [await _timed(lambda: make(chance)) for _ in range(SAMPLES)]
    times = sorted(ms for ms, _ in samples)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return Timing(name, statistics.median(times), p95, statistics.mean(n for _, n in samples))


async def _measure(mongo_uri: str, count: int) -> list[Timing]:
    client = connect(mongo_uri)
    # Where the service keeps its log when LABELMESH_MONGO_DATABASE is DATABASE.
    db = client[f"{DATABASE}_audit"]
    await ensure_core_indexes(db)
    audit = Audit(MongoAuditRepository(db), AuditMetrics(CollectorRegistry()))
    uow = MongoUnitOfWork(client, db, Topics("bench"))
    try:
        await _load(audit, uow, db, count)
        span = count * STEP

        def somewhere(chance: random.Random) -> datetime:
            return T0 + span * chance.random() * 0.9

        async def page(query: AuditQuery, token: str = "") -> int:
            return len((await audit.page(query, PAGE, token)).entries)

        shapes: dict[str, Callable[[random.Random], Awaitable[int]]] = {
            "project": lambda c: page(AuditQuery(PROJECT, occurred_from=somewhere(c))),
            "project + actor": lambda c: page(
                AuditQuery(
                    PROJECT, actor=f"KIND_USER:{c.choice(ACTORS)}", occurred_from=somewhere(c)
                )
            ),
            "project + event_type": lambda c: page(
                AuditQuery(
                    PROJECT,
                    event_types=(f"labelmesh.v1.{c.choice(PAYLOADS).__name__}",),
                    occurred_from=somewhere(c),
                )
            ),
            "project + time range (1 min)": lambda c: _ranged(audit, somewhere(c)),
            "deep cursor page (90% in)": lambda c: page(
                AuditQuery(PROJECT),
                encode_cursor(Cursor(T0 + span * 0.9, "", STEP * PAGE)),
            ),
        }
        timings = [await _shape(name, make) for name, make in shapes.items()]
    finally:
        await client.close()
    return timings


async def _ranged(audit: Audit, start: datetime) -> int:
    query = AuditQuery(PROJECT, occurred_from=start, occurred_to=start + timedelta(minutes=1))
    return len((await audit.page(query, PAGE)).entries)


async def _export(base_url: str, auth: dict[str, str], count: int) -> float:
    """Entries per second of GET /v1/audit/export?format=jsonl over `count` entries."""
    params = {
        "project_id": PROJECT,
        "from": T0.isoformat(),
        "to": (T0 + count * STEP).isoformat(),
    }
    lines = 0
    started = time.perf_counter()
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=600, headers=auth) as http,
        http.stream("GET", "/v1/audit/export", params=params) as response,
    ):
        async for chunk in response.aiter_bytes():
            lines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    if lines != count:
        raise RuntimeError(f"the export streamed {lines} entries, not {count}")
    return lines / seconds


def table(entries: int, timings: list[Timing], export_rate: float) -> Table:
    """The figures against their targets, stated for TARGET_SIZE entries."""
    result = Table(
        title=f"audit log: measured at {entries:,} entries (targets stated for {TARGET_SIZE})"
    )
    for column in ("query", "p50", "p95", "entries found", "target", "met"):
        result.add_column(column, justify="left" if column == "query" else "right")
    for t in timings:
        met = t.p95_ms <= PAGE_P95_TARGET_MS
        result.add_row(
            f"page of {PAGE}: {t.shape}",
            f"{t.p50_ms:,.1f} ms",
            f"{t.p95_ms:,.1f} ms",
            f"{t.found:,.0f}",
            f"p95 ≤ {PAGE_P95_TARGET_MS:.0f} ms",
            "yes" if met else "no",
        )
    result.add_row(
        "export JSONL over REST",
        "",
        f"{export_rate:,.0f} entries/s",
        f"{min(entries, EXPORT_ENTRIES):,}",
        f"≥ {EXPORT_TARGET_PER_SECOND:,.0f} entries/s",
        "yes" if export_rate >= EXPORT_TARGET_PER_SECOND else "no",
    )
    return result
