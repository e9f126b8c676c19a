"""Scale: import, claim, submit, queue stats, review and the zero-shot model as
the database grows to 1k, 100k and 1M tasks, printed as one table.

One database grows from size to size. Its tasks are seeded straight into the
annotation database, by the annotation adapter's own document builder, into
projects of at most `PROJECT_TASKS` open tasks each; the annotators' and queue
figures at a size are taken on the fullest project. Import goes into a project
of its own whose ingest database holds as many items as the size (prefilled
the way an upload stores them). Review latency comes from `bench.review`,
which runs a review service of its own on the same broker and database.

Inference does not run in this stack: pre-labelling the imported texts would
compete for the 2 cores with the figures taken after it; the model is measured
on its own, once, since its speed does not depend on the database.
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from bench.annotators import AtOnce, at_once, one_after_another, own_clients, percentile
from bench.cpu import CpuUsed, cpu_used
from bench.imports import ImportRates, measure_imports, prefill, wait_for_project
from bench.labelmesh_api import LabelMeshProject, LabelMeshRest
from bench.review import bench_review
from labelmesh.annotation.adapters.seeding import seed_open_tasks
from labelmesh.core.mongo import connect
from labelmesh.devstack.infra import running_infrastructure
from labelmesh.devstack.keys import StackKeys
from labelmesh.devstack.services import ServiceAddress, running_services, stack_env

SIZES = (1_000, 100_000, 1_000_000)
PROJECT_TASKS = 100_000
PREFIX = "scale"
SERVICES = ("access", "ingest", "annotation", "review", "audit")
CLASSES = ["sports", "politics", "technology", "business", "health"]
# Rounds of each annotator in each of the two runs, besides one to warm up: at
# 1k tasks, both runs together must find enough open tasks.
ANNOTATORS, ROUNDS = 50, 8
# The steady load under which latency is measured, claim + submit per second.
OFFERED_RATE = 200.0
# The CPU a claim + submit may use to reach OFFERED_RATE: the machine's cores
# over the rate, and one core over it for the database (one Python process).
CORES = os.cpu_count() or 1
CPU_BUDGET = f"<= {1000 * CORES / OFFERED_RATE:.0f} / {1000 / OFFERED_RATE:.0f}"
IMPORT_ITEMS = 10_000
QUEUE_STATS_CALLS = 50
# The benchmark's database lives in memory, all of it in the cache: 1M tasks and
# 1M items overflow SecantusDB's default of 1G.
DATABASE_CACHE = "8G"
# Piped into a log, Rich would wrap the table at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 132)
T = TypeVar("T")
F = TypeVar("F")


@dataclass
class Grown:
    """What the database holds so far: annotation projects with their seeded
    tasks (oldest first), and the import project with its ingest items."""

    projects: list[tuple[str, int]] = field(default_factory=list)
    import_project: str = ""
    import_items: int = 0

    @property
    def tasks(self) -> int:
        return sum(n for _, n in self.projects)

    def fullest(self) -> tuple[str, int]:
        """The project with the most seeded tasks; of equals, the newest."""
        return max(reversed(self.projects), key=lambda project: project[1])


@dataclass(frozen=True)
class Failed:
    """A figure that could not be taken, and why; the other figures still are."""

    reason: str


@dataclass(frozen=True)
class Annotated:
    # As fast as the annotators can go: the rate the stack sustains.
    fastest: AtOnce
    # CPU used meanwhile, by the machine and by the database.
    fastest_cpu: CpuUsed
    # At OFFERED_RATE: latency under a steady load.
    steady: AtOnce
    queue_stats: list[float]


@dataclass(frozen=True)
class AtSize:
    size: int
    project_tasks: int
    annotated: Annotated | Failed
    imports: ImportRates | Failed
    review_p95: float | Failed
    # The machine's 1-minute load average when the figures began and ended.
    load: tuple[float, float]


@dataclass(frozen=True)
class Stack:
    addresses: dict[str, ServiceAddress]
    bootstrap: str
    mongo_uri: str
    database_pid: int
    root: Path
    keys: StackKeys


def bench_scale(sizes: Sequence[int] = SIZES) -> None:
    """Grow the database through `sizes` (ascending task counts); print the table of
    figures after each size, so that a failure later loses none of them."""
    sizes = sorted(sizes)
    model_rate = _measured("zero-shot model", _model_rate)
    figures: list[AtSize] = []
    with tempfile.TemporaryDirectory(prefix="labelmesh-scale-") as tmp:
        root = Path(tmp)
        console.print("scale: starting broker, database and services ...")
        with running_infrastructure(root, cache_size=DATABASE_CACHE) as infra:
            env = {
                **stack_env(infra.bootstrap, infra.mongo_uri, PREFIX, root),
                "LABELMESH_LOG_LEVEL": "WARNING",
            }
            with running_services(env, root / "logs", names=SERVICES) as addresses:
                keys = StackKeys.of(addresses, root)
                stack = Stack(
                    addresses, infra.bootstrap, infra.mongo_uri, infra.database_pid, root, keys
                )
                grown = Grown()
                for size in sizes:
                    console.rule(f"scale: {size:,} tasks")
                    try:
                        figures.append(_at_size(stack, grown, size))
                    except Exception:
                        # Growing failed: the sizes reached so far still make a table.
                        console.print_exception()
                        _show_log_tail(root / "secantusdb.log")
                        break
                    console.print(table(figures, model_rate))


def _show_log_tail(path: Path, lines: int = 40) -> None:
    if path.exists():
        console.print(f"scale: the end of {path.name}:")
        console.print("\n".join(path.read_text(errors="replace").splitlines()[-lines:]))


def _measured(what: str, measure: Callable[[], T]) -> T | Failed:
    """The figure, or why it failed: one failure must not lose a long run's other figures."""
    try:
        return measure()
    except Exception as error:
        console.print(f"[red]scale: {what} failed:[/red] {type(error).__name__}: {error}")
        return Failed(_short(error))


def _short(error: Exception) -> str:
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    return type(error).__name__


def _run(coroutine: Callable[[], Coroutine[Any, Any, T]]) -> Callable[[], T]:
    return lambda: asyncio.run(coroutine())


def _at_size(stack: Stack, grown: Grown, size: int) -> AtSize:
    asyncio.run(_grow(stack, grown, size))
    project_id, project_tasks = grown.fullest()
    load = os.getloadavg()[0]
    annotated = _measured("claim and submit", _run(lambda: _annotate(stack, project_id)))
    # The review benchmark starts its own review service and runs its own loop.
    review_p95 = _measured(
        "review", lambda: bench_review(stack.bootstrap, stack.mongo_uri, stack.root, 0)[1]
    )
    # Last: the imported texts' events reach annotation and audit after the figure
    # is taken, and must not weigh on the annotators' figures.
    imports = _measured("import", _run(lambda: _import(stack, grown, size)))
    loads = (load, os.getloadavg()[0])
    # The imported texts become tasks and audit entries after the figure is taken;
    # the next size's figures must not pay for them.
    _measured("catching up", _run(lambda: _until_caught_up(stack)))
    return AtSize(size, project_tasks, annotated, imports, review_p95, loads)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


async def _grow(stack: Stack, grown: Grown, size: int) -> None:
    """Seed tasks until the annotation database holds `size`, filling the last
    project up to PROJECT_TASKS before starting the next; prefill the import
    project's ingest items up to `size`."""
    client = connect(stack.mongo_uri)
    try:
        lead = stack.keys.headers("")
        async with httpx.AsyncClient(timeout=60, headers=lead) as http:
            rest = LabelMeshRest(http, stack.addresses)
            if not grown.import_project:
                grown.import_project = await rest.create_text_project("scale import", CLASSES)
                await wait_for_project(stack.addresses["ingest"], grown.import_project, lead)
                grown.import_items = 1  # the warm-up text wait_for_project uploads
            start = grown.tasks
            with _progress() as progress:
                bar = progress.add_task("seeding tasks", total=size - start)
                while grown.tasks < size:
                    if not grown.projects or grown.projects[-1][1] >= PROJECT_TASKS:
                        name = f"scale {len(grown.projects)}"
                        grown.projects.append((await rest.create_text_project(name, CLASSES), 0))
                    project_id, held = grown.projects[-1]
                    count = min(size - grown.tasks, PROJECT_TASKS - held)
                    await seed_open_tasks(
                        client[f"{PREFIX}_annotation"],
                        project_id,
                        count,
                        _shown_from(progress, bar, grown.tasks - start),
                    )
                    grown.projects[-1] = (project_id, held + count)
                missing = max(0, size - grown.import_items)
                bar = progress.add_task("prefilling the import project", total=missing)
                await prefill(
                    client[f"{PREFIX}_ingest"],
                    grown.import_project,
                    missing,
                    _shown_from(progress, bar, 0),
                )
                grown.import_items += missing
    finally:
        await client.close()


def _shown_from(progress: Progress, bar: TaskID, before: int) -> Callable[[int], None]:
    """A progress callback that hears a running total counted from `before`."""
    return lambda written: progress.update(bar, completed=before + written)


async def _annotate(stack: Stack, project_id: str) -> Annotated:
    names = [f"annotator-{i}" for i in range(ANNOTATORS)]
    # A long timeout: a slow request shows in p99 instead of being cut off.
    stack.keys.prepare([*names, "warm-up"])
    async with own_clients(
        [*names, "warm-up"], request_timeout=120, headers_of=stack.keys.headers
    ) as clients:

        def project_of(annotator: str) -> LabelMeshProject:
            rest = LabelMeshRest(clients[annotator], stack.addresses)
            return LabelMeshProject(rest, project_id, CLASSES[0])

        await one_after_another(project_of("warm-up"), "warm-up", 5)
        tools = {name: project_of(name) for name in names}
        with _progress() as progress:
            bar = progress.add_task(
                f"{ANNOTATORS} annotators, as fast as they can, then at "
                f"{OFFERED_RATE:.0f}/s: claim + submit",
                total=2 * ANNOTATORS * ROUNDS,
            )
            with cpu_used(stack.database_pid) as fastest_cpu:
                fastest = await at_once(tools, ROUNDS, lambda: progress.advance(bar))
            steady = await at_once(
                tools, ROUNDS, lambda: progress.advance(bar), rate=OFFERED_RATE, warm_up=False
            )
        rest = LabelMeshRest(clients["warm-up"], stack.addresses)
        queue_stats: list[float] = []
        for _ in range(QUEUE_STATS_CALLS):
            started = time.perf_counter()
            await rest.queue_stats(project_id)
            queue_stats.append(time.perf_counter() - started)
    return Annotated(fastest, fastest_cpu, steady, queue_stats)


async def _import(stack: Stack, grown: Grown, size: int) -> ImportRates:
    console.print(f"scale: importing {IMPORT_ITEMS:,} texts over REST, then over gRPC ...")
    # Counted before: a failed import may have stored some; prefilling tops up from the count.
    grown.import_items += 2 * IMPORT_ITEMS
    return await measure_imports(
        stack.addresses["ingest"],
        grown.import_project,
        stack.keys.headers(""),
        IMPORT_ITEMS,
        project_size=size,
    )


async def _until_caught_up(stack: Stack, deadline_seconds: float = 1_800) -> None:
    """Until every service has handled every event published so far (no consumer
    lag on two reads a second apart)."""
    deadline = time.monotonic() + deadline_seconds
    async with httpx.AsyncClient(timeout=10) as http:
        with _progress() as progress:
            bar = progress.add_task("letting the services catch up on events", total=None)
            quiet = 0
            while quiet < 2:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"consumers still behind after {deadline_seconds:.0f} s")
                lag = sum([await _lag(http, address) for address in stack.addresses.values()])
                progress.update(bar, total=max(lag, progress.tasks[bar].total or 0))
                progress.update(bar, completed=(progress.tasks[bar].total or 0) - lag)
                quiet = quiet + 1 if lag == 0 else 0
                await asyncio.sleep(1)


async def _lag(http: httpx.AsyncClient, address: ServiceAddress) -> int:
    """The service's consumer lag, in events, summed over its partitions."""
    response = await http.get(address.metrics)
    response.raise_for_status()
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in response.text.splitlines()
        if "_consumer_lag_messages{" in line
    )


def _model_rate() -> float:
    """Zero-shot text classification items/s, as the inference service batches them."""
    # Imported here: the model modules are heavy and only this figure needs them.
    from bench.models import bench_zero_shot_fetches

    one_sentence, _ = asyncio.run(bench_zero_shot_fetches())
    return one_sentence


def _cell(figure: F | Failed, shown: Callable[[F], str]) -> str:
    return f"failed: {figure.reason}" if isinstance(figure, Failed) else shown(figure)


def table(figures: Sequence[AtSize], model_rate: float | Failed) -> Table:
    """One column per size; the issue's target beside each figure."""
    out = Table(
        title="LabelMesh at scale (embedded stack, this machine)",
        caption=f"{ANNOTATORS} annotators at once, {ROUNDS} claim + submit each per run, in the "
        f"fullest project (at most {PROJECT_TASKS:,} open tasks); import {IMPORT_ITEMS:,} "
        "texts per API into a project holding as many items as the size",
    )
    out.add_column("figure")
    for f in figures:
        out.add_column(f"{f.size:,} tasks", justify="right")
    out.add_column("target", justify="right")

    def row(name: str, target: str, cell: Callable[[AtSize], str]) -> None:
        out.add_row(name, *(cell(f) for f in figures), target)

    def imports(shown: Callable[[ImportRates], str]) -> Callable[[AtSize], str]:
        return lambda f: _cell(f.imports, shown)

    def annotated(shown: Callable[[Annotated], str]) -> Callable[[AtSize], str]:
        return lambda f: _cell(f.annotated, shown)

    model = _cell(model_rate, lambda rate: f"{rate:,.0f}")
    row("tasks seeded in the project", "", lambda f: f"{f.project_tasks:,}")
    row("import, REST (items/s)", ">= 7,000", imports(lambda i: f"{i.rest:,.0f}"))
    row("import, gRPC stream (items/s)", ">= 7,000", imports(lambda i: f"{i.grpc:,.0f}"))
    row(
        "claim + submit /s, as fast as annotators go",
        ">= 200",
        annotated(lambda a: f"{a.fastest.pairs_per_second:,.0f}"),
    )
    row(
        "  claim / submit p99 (ms) then",
        "",
        annotated(lambda a: f"{_p99(a.fastest.claims)} / {_p99(a.fastest.submits)}"),
    )
    row(
        "  CPU per claim + submit then (ms): machine / database",
        CPU_BUDGET,
        annotated(lambda a: _cpu_per_pair(a.fastest, a.fastest_cpu)),
    )
    row(
        f"claim p50 / p99 (ms) at {OFFERED_RATE:.0f}/s",
        "p99 <= 30",
        annotated(lambda a: _pair(a.steady.claims)),
    )
    row(
        f"submit p50 / p99 (ms) at {OFFERED_RATE:.0f}/s",
        "p99 <= 30",
        annotated(lambda a: _pair(a.steady.submits)),
    )
    row(
        f"  achieved at {OFFERED_RATE:.0f}/s offered",
        "",
        annotated(lambda a: f"{a.steady.pairs_per_second:,.0f}/s"),
    )
    row("errors", "0", annotated(lambda a: _errors(a.fastest, a.steady)))
    row("queue stats p50 / p99 (ms)", "<= 50", annotated(lambda a: _pair(a.queue_stats)))
    row("review p95, submitted -> decided (ms)", "<= 200", lambda f: _cell(f.review_p95, _ms))
    row("zero-shot model (items/s, measured once)", ">= 300", lambda f: model)
    row("machine load (1-min average, start -> end)", "", lambda f: _load(f.load))
    return out


def _cpu_per_pair(run: AtOnce, cpu: CpuUsed) -> str:
    """CPU milliseconds per claim + submit: of the whole machine, and of the database."""
    pairs = max(1, len(run.submits))
    return f"{1000 * cpu.machine / pairs:.1f} / {1000 * cpu.process / pairs:.1f}"


def _load(load: tuple[float, float]) -> str:
    return f"{load[0]:.1f} -> {load[1]:.1f}"


def _ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    ms = seconds * 1000
    return f"{ms:,.0f}" if ms >= 10 else f"{ms:,.1f}"


def _pair(seconds: Sequence[float]) -> str:
    return f"{_ms(percentile(seconds, 50))} / {_ms(percentile(seconds, 99))}"


def _p99(seconds: Sequence[float]) -> str:
    return _ms(percentile(seconds, 99))


def _errors(*runs: AtOnce) -> str:
    errors = sum((run.errors for run in runs), Counter[str]())
    failed = sum(errors.values())
    if not failed:
        return "0"
    kinds = ", ".join(f"{kind} x{n}" for kind, n in errors.most_common())
    return f"{failed} ({kinds})"
