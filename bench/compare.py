"""`make bench-compare`: the same import and annotation workloads, in one run,
against Label Studio (from PyPI, on its default SQLite) and against LabelMesh
(the embedded stack, each service its own process), printed as one table with
the ratio LabelMesh / Label Studio.

The workloads, on a text classification project of each tool:
- import `items` texts in requests of `batch` (items/s, one request at a time);
- one annotator claims its next task and submits a label, `rounds` times, one
  after another (mean of each step);
- `annotators` annotators at once, `each` claims and submits apiece after one
  round to warm up, each with a connection of their own (claim + submit per
  second, p50 and p99 of each step, errors).

LabelMesh pre-labels every imported text with its zero-shot model before the
task opens to people; the annotators start once every task is open, as they
would start in Label Studio once the import is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.annotators import (
    Annotating,
    AtOnce,
    OneAfterAnother,
    at_once,
    one_after_another,
    own_clients,
)
from bench.labelmesh_api import LabelMeshProject, LabelMeshRest
from bench.labelstudio import (
    LabelStudioApi,
    LabelStudioProject,
    LabelStudioServer,
    running_label_studio,
)
from labelmesh.devstack.infra import running_infrastructure
from labelmesh.devstack.keys import StackKeys
from labelmesh.devstack.services import ServiceAddress, running_services, stack_env

TOPICS = ["sports", "politics", "technology", "business", "health"]
SOLO = "solo"
# Long enough to see how slow a request gets, rather than cut it off.
REQUEST_TIMEOUT_SECONDS = 120.0
# How long pre-labelling may take at most before the run gives up on it.
PRELABEL_DEADLINE_SECONDS = 1_800.0
# Answers that mean "not now, try again after Retry-After".
SHED = (429, 503, 504)
IMPORT_ATTEMPTS = 5
# Piped into a log, Rich would wrap the table at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 132)


@dataclass(frozen=True)
class Workload:
    items: int = 10_000
    batch: int = 1_000
    rounds: int = 100
    annotators: int = 50
    each: int = 10

    def names(self) -> list[str]:
        return [f"annotator-{i}" for i in range(self.annotators)]

    def texts(self) -> list[str]:
        return [
            f"Report {i}: news about {TOPICS[i % len(TOPICS)]} today" for i in range(self.items)
        ]


@dataclass(frozen=True)
class Figures:
    import_rate: float
    # Import requests turned away (429/503/504) and sent again.
    import_retries: int
    sequential: OneAfterAnother
    concurrent: AtOnce
    # The machine's 1-minute load average when the workloads began and ended:
    # other work on the same 2 cores shows in every figure.
    load: tuple[float, float]
    # LabelMesh only: imported texts per second until every one is an open task.
    prelabelled_rate: float | None = None


def bench_compare(workload: Workload) -> None:
    with tempfile.TemporaryDirectory(prefix="labelmesh-compare-") as tmp:
        root = Path(tmp)
        console.print("[bold]Label Studio[/bold]: starting (the first start migrates SQLite) ...")
        with running_label_studio(root, [SOLO, *workload.names()]) as server:
            label_studio = asyncio.run(_drive_label_studio(server, workload))
        console.print("[bold]LabelMesh[/bold]: starting broker, database and the services ...")
        with _labelmesh_stack(root) as addresses:
            keys = StackKeys.of(addresses, root)
            labelmesh = asyncio.run(_drive_labelmesh(addresses, keys, workload))
    console.print()
    console.print(table(workload, label_studio, labelmesh))


@contextlib.contextmanager
def _labelmesh_stack(root: Path) -> Iterator[dict[str, ServiceAddress]]:
    with running_infrastructure(root) as infra:
        env = {
            **stack_env(infra.bootstrap, infra.mongo_uri, "compare", root),
            "LABELMESH_LOG_LEVEL": "WARNING",
        }
        with running_services(env, root / "logs") as addresses:
            yield addresses


def _client(headers: Mapping[str, str] | None = None) -> httpx.AsyncClient:
    """The project lead's client: creates the project and imports."""
    return httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SECONDS, headers=dict(headers or {}))


async def _drive_label_studio(server: LabelStudioServer, workload: Workload) -> Figures:
    load = os.getloadavg()[0]
    async with _client() as client:
        api = LabelStudioApi(client, server)
        project_id = await api.create_text_project("compare", TOPICS)
        await api.upload(project_id, ["warm-up"])
        rate, retries = await _import("Label Studio", lambda t: api.upload(project_id, t), workload)

        def project_of(client: httpx.AsyncClient) -> Annotating:
            return LabelStudioProject(LabelStudioApi(client, server), project_id, TOPICS[0])

        sequential, concurrent = await _annotate("Label Studio", project_of, workload)
    return Figures(rate, retries, sequential, concurrent, (load, os.getloadavg()[0]))


async def _drive_labelmesh(
    addresses: dict[str, ServiceAddress], keys: StackKeys, workload: Workload
) -> Figures:
    load = os.getloadavg()[0]
    keys.prepare([SOLO, *workload.names()])
    async with _client(keys.headers("")) as client:
        rest = LabelMeshRest(client, addresses)
        project_id = await rest.create_text_project("compare", TOPICS)
        await rest.wait_until_ingest_knows(project_id)
        started = time.perf_counter()
        rate, retries = await _import("LabelMesh", lambda t: rest.upload(project_id, t), workload)
        # + the warm-up text of wait_until_ingest_knows
        await _until_prelabelled(rest, project_id, workload.items + 1)
        prelabelled = workload.items / (time.perf_counter() - started)

        def project_of(client: httpx.AsyncClient) -> Annotating:
            return LabelMeshProject(LabelMeshRest(client, addresses), project_id, TOPICS[0])

        sequential, concurrent = await _annotate("LabelMesh", project_of, workload, keys.headers)
    loads = (load, os.getloadavg()[0])
    return Figures(rate, retries, sequential, concurrent, loads, prelabelled)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


async def _import(
    tool: str, upload: Callable[[Sequence[str]], Awaitable[None]], workload: Workload
) -> tuple[float, int]:
    """Items per second, and how many requests were turned away and sent again."""
    texts = workload.texts()
    retried = 0
    with _progress() as progress:
        bar = progress.add_task(f"{tool}: importing texts", total=len(texts))
        started = time.perf_counter()
        for offset in range(0, len(texts), workload.batch):
            batch = texts[offset : offset + workload.batch]
            retried += await _sent(upload, batch)
            progress.advance(bar, len(batch))
        return len(texts) / (time.perf_counter() - started), retried


async def _sent(upload: Callable[[Sequence[str]], Awaitable[None]], batch: Sequence[str]) -> int:
    """Upload, sending again after Retry-After while the tool sheds load, as a
    careful script would. Only LabelMesh sheds load, and it deduplicates by
    content, so a batch sent again is never stored twice. Returns how often
    it was sent again."""
    for attempt in range(IMPORT_ATTEMPTS):
        try:
            await upload(batch)
            return attempt
        except httpx.HTTPStatusError as error:
            response = error.response
            if response.status_code not in SHED or attempt + 1 == IMPORT_ATTEMPTS:
                raise
            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
    raise AssertionError("unreachable")


async def _until_prelabelled(rest: LabelMeshRest, project_id: str, expected: int) -> None:
    """Until every imported text is a task that people can take."""
    deadline = time.monotonic() + PRELABEL_DEADLINE_SECONDS
    with _progress() as progress:
        bar = progress.add_task("LabelMesh: pre-labelling into open tasks", total=expected)
        while True:
            stats = await rest.queue_stats(project_id)
            ready = sum(n for status, n in stats.items() if status not in ("pending", "gold"))
            progress.update(bar, completed=ready)
            if ready >= expected:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"after {PRELABEL_DEADLINE_SECONDS:.0f} s the queue is {stats}")
            await asyncio.sleep(1.0)


async def _annotate(
    tool: str,
    project_of: Callable[[httpx.AsyncClient], Annotating],
    workload: Workload,
    headers_of: Callable[[str], Mapping[str, str]] = lambda annotator: {},
) -> tuple[OneAfterAnother, AtOnce]:
    """Each annotator works through a client (a connection) of their own, which
    sends `headers_of(annotator)`."""
    names = workload.names()
    async with own_clients([SOLO, *names], REQUEST_TIMEOUT_SECONDS, headers_of) as clients:
        with _progress() as progress:
            bar = progress.add_task(f"{tool}: one annotator, claim + submit", total=workload.rounds)
            sequential = await one_after_another(
                project_of(clients[SOLO]), SOLO, workload.rounds, lambda: progress.advance(bar)
            )
        total = workload.annotators * workload.each
        tools = {name: project_of(clients[name]) for name in names}
        with _progress() as progress:
            bar = progress.add_task(
                f"{tool}: {workload.annotators} annotators at once, claim + submit", total=total
            )
            concurrent = await at_once(tools, workload.each, lambda: progress.advance(bar))
    return sequential, concurrent


def table(workload: Workload, label_studio: Figures, labelmesh: Figures) -> Table:
    """Both tools' figures side by side, and LabelMesh / Label Studio."""
    out = Table(
        title="Label Studio and LabelMesh, same machine, same run",
        caption="ratio = LabelMesh / Label Studio: above 1 is better for rates, "
        "below 1 for times; 'claim' is Label Studio's GET /api/projects/{id}/next",
    )
    for column in ("work", "Label Studio", "LabelMesh", "ratio"):
        out.add_column(column, justify="left" if column == "work" else "right")
    ls, lm = label_studio, labelmesh
    ls_c, lm_c = ls.concurrent, lm.concurrent
    rows: list[tuple[str, str, str, str]] = [
        (
            f"import {workload.items:,} text items in requests of {workload.batch:,}",
            _rate(ls.import_rate, "items/s") + _retried(ls.import_retries),
            _rate(lm.import_rate, "items/s") + _retried(lm.import_retries),
            _ratio(lm.import_rate, ls.import_rate),
        ),
        (
            "upload → every text a pre-labelled open task",
            "-",
            _rate(lm.prelabelled_rate, "items/s"),
            "-",
        ),
        (
            f"submit one annotation, one after another ({workload.rounds} rounds)",
            _ms(ls.sequential.submit_mean, "mean"),
            _ms(lm.sequential.submit_mean, "mean"),
            _ratio(lm.sequential.submit_mean, ls.sequential.submit_mean),
        ),
        (
            "claim + submit, one after another",
            _ms(ls.sequential.claim_submit_mean, "mean"),
            _ms(lm.sequential.claim_submit_mean, "mean"),
            _ratio(lm.sequential.claim_submit_mean, ls.sequential.claim_submit_mean),
        ),
        (
            f"{workload.annotators} annotators at once, {workload.each} claim + submit each",
            _rate(ls_c.pairs_per_second, "/s"),
            _rate(lm_c.pairs_per_second, "/s"),
            _ratio(lm_c.pairs_per_second, ls_c.pairs_per_second),
        ),
    ]
    for step, p in (("claim", 50), ("claim", 99), ("submit", 50), ("submit", 99)):
        ls_v, lm_v = _step(ls_c, step, p), _step(lm_c, step, p)
        rows.append((f"  {step} p{p}", _ms(ls_v), _ms(lm_v), _ratio(lm_v, ls_v)))
    rows.append(("  errors", _errors(ls_c), _errors(lm_c), "-"))
    rows.append(("machine load (1-min average, start -> end)", _load(ls), _load(lm), "-"))
    for row in rows:
        out.add_row(*row)
    return out


def _step(figures: AtOnce, step: str, p: int) -> float:
    return figures.claim_percentile(p) if step == "claim" else figures.submit_percentile(p)


def _rate(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.1f} {unit}"


def _ms(seconds: float, suffix: str = "") -> str:
    if math.isnan(seconds):
        return "-"
    ms = seconds * 1000
    shown = f"{ms:,.0f} ms" if ms >= 10 else f"{ms:,.1f} ms"
    return f"{shown} {suffix}".rstrip()


def _ratio(labelmesh: float | None, label_studio: float | None) -> str:
    if labelmesh is None or label_studio is None or not label_studio:
        return "-"
    if math.isnan(labelmesh) or math.isnan(label_studio):
        return "-"
    return f"{labelmesh / label_studio:,.2f}x"


def _load(figures: Figures) -> str:
    return f"{figures.load[0]:.1f} -> {figures.load[1]:.1f}"


def _retried(requests: int) -> str:
    return f" ({requests} sent again)" if requests else ""


def _errors(figures: AtOnce) -> str:
    failed = sum(figures.errors.values())
    kinds = ", ".join(f"{kind} x{n}" for kind, n in figures.errors.most_common())
    share = f"{failed / figures.requests:.1%} of {figures.requests:,}" if figures.requests else "-"
    return f"{share} ({kinds})" if kinds else share
