"""Annotators driving a labelling tool: take the next task, submit a label, again.

The workloads only know `Annotating`, so the same code measures LabelMesh and
Label Studio. Each annotator has a tool, and a connection, of their own. A
failed request (an HTTP error, a timeout, or no task handed out) counts as an
error and the annotator moves on to its next round.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import httpx


class NoTask(Exception):
    """The tool handed out no task although the project still had open ones."""


class Annotating(Protocol):
    """One project of a labelling tool, as its annotators see it."""

    async def claim(self, annotator: str) -> str:
        """The id of the task the annotator works on next; raises NoTask if none."""
        ...

    async def submit(self, annotator: str, task_id: str) -> None: ...


@dataclass(frozen=True)
class OneAfterAnother:
    """One annotator, one round after another; means in seconds."""

    rounds: int
    claim_mean: float
    submit_mean: float

    @property
    def claim_submit_mean(self) -> float:
        return self.claim_mean + self.submit_mean


@dataclass(frozen=True)
class AtOnce:
    """Many annotators at the same time; latencies in seconds."""

    annotators: int
    rounds: int
    seconds: float
    claims: list[float]
    submits: list[float]
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return len(self.claims) + len(self.submits) + sum(self.errors.values())

    @property
    def error_rate(self) -> float:
        return sum(self.errors.values()) / self.requests if self.requests else 0.0

    @property
    def pairs_per_second(self) -> float:
        """Claims followed by a successful submit, per second of the whole run."""
        return len(self.submits) / self.seconds

    def claim_percentile(self, p: int) -> float:
        return percentile(self.claims, p)

    def submit_percentile(self, p: int) -> float:
        return percentile(self.submits, p)


def percentile(values: Sequence[float], p: int) -> float:
    """The p-th percentile (1-99); NaN with fewer than two values."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100)[p - 1]


def error_kind(error: BaseException) -> str:
    """A short name for what went wrong, to count errors by kind."""
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    if isinstance(error, NoTask):
        return "no task"
    return type(error).__name__


async def one_after_another(
    tool: Annotating,
    annotator: str,
    rounds: int,
    on_round: Callable[[], None] = lambda: None,
) -> OneAfterAnother:
    """`rounds` claims and submits by one annotator, each after the one before;
    any error stops the run, since a sequential mean over failures means nothing."""
    claims: list[float] = []
    submits: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        task_id = await tool.claim(annotator)
        claimed = time.perf_counter()
        await tool.submit(annotator, task_id)
        claims.append(claimed - started)
        submits.append(time.perf_counter() - claimed)
        on_round()
    return OneAfterAnother(rounds, statistics.fmean(claims), statistics.fmean(submits))


async def at_once(
    tools: Mapping[str, Annotating],
    rounds: int,
    on_round: Callable[[], None] = lambda: None,
    *,
    rate: float | None = None,
    warm_up: bool = True,
) -> AtOnce:
    """Every annotator (the keys of `tools`, each with a tool of their own) does
    `rounds` claims and submits, all annotators at once.

    With `warm_up`, each first does one round that is not timed, as an annotator
    who has opened the tool has a connection and a place in the queue. Without
    `rate`, each starts the next round as soon as the last ended, so the run
    finds how many rounds per second the tool sustains; but then, by Little's
    law, latency is only the number of annotators over that rate. With `rate`
    (claim + submit per second, all annotators together), each annotator starts
    a round on a fixed schedule (at once when running late), so that latency is
    measured under that steady load.
    """
    claims: list[float] = []
    submits: list[float] = []
    errors: Counter[str] = Counter()
    interval = len(tools) / rate if rate else 0.0

    async def one_round(tool: Annotating, annotator: str, timed: bool) -> None:
        try:
            started = time.perf_counter()
            task_id = await tool.claim(annotator)
            claimed = time.perf_counter()
            await tool.submit(annotator, task_id)
            if timed:
                claims.append(claimed - started)
                submits.append(time.perf_counter() - claimed)
        except (httpx.HTTPError, NoTask) as error:
            errors[error_kind(error)] += 1

    async def annotate(index: int, annotator: str, tool: Annotating, began: float) -> None:
        # Staggered, so that the annotators' schedules do not start in step.
        due = began + interval * index / len(tools)
        for _ in range(rounds):
            if interval:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                due += interval
            await one_round(tool, annotator, timed=True)
            on_round()

    if warm_up:
        await asyncio.gather(*(one_round(tool, name, timed=False) for name, tool in tools.items()))
    started = time.perf_counter()
    await asyncio.gather(
        *(annotate(i, name, tool, started) for i, (name, tool) in enumerate(tools.items()))
    )
    seconds = time.perf_counter() - started
    return AtOnce(len(tools), rounds, seconds, claims, submits, errors)


@contextlib.asynccontextmanager
async def own_clients(
    annotators: Sequence[str],
    request_timeout: float,
    headers_of: Callable[[str], Mapping[str, str]] = lambda annotator: {},
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """An HTTP client for each annotator, sending `headers_of(annotator)` (their
    credential), as each annotator's browser has its own connection. (With one
    pool for all, httpx looks at every connection of the pool on each request,
    and the client would measure mostly itself.)"""
    async with contextlib.AsyncExitStack() as stack:
        yield {
            annotator: await stack.enter_async_context(
                httpx.AsyncClient(timeout=request_timeout, headers=dict(headers_of(annotator)))
            )
            for annotator in annotators
        }
