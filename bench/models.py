"""Items per second and latency of each built-in model on this CPU, unbatched
and batched, and the platform's own overhead per item around the model; then
zero-shot text classification as pre-labelling runs it, on whole fetches."""

from __future__ import annotations

import asyncio
import io
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from labelmesh.core.capacity import Capacity
from labelmesh.inference.config import InferenceSettings
from labelmesh.inference.metrics import InferenceMetrics
from labelmesh.inference.models.base import Model, ModelInput
from labelmesh.inference.models.zero_shot import ZeroShotClassifier
from labelmesh.inference.runtime import Batching, Failure, ModelRunner
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import Label

BATCH_SIZE = 16
OVERHEAD_TARGET_MS = 5.0
# Wall time spent measuring each mode of each model; item counts follow from it.
PHASE_SECONDS = 3.0
MIN_ITEMS = 5
MAX_ITEMS = 300
SPEECH = Path(__file__).resolve().parents[1] / "services/inference/tests/data/speech.wav"
TEXT = "The home team won the championship after a late goal in extra time."
CLASSES = ("sports", "politics", "technology")
# Pre-labelling hands a model a whole fetch of items at once.
FETCH_ITEMS = 256
ZERO_SHOT_TARGET = 300.0
SENTENCES = (
    TEXT,
    "Parliament passed the budget after a long night of debate.",
    "The new smartphone ships with a faster chip and a better camera.",
    "Shares of the carmaker fell after it cut its forecast for the year.",
    "A new vaccine cut hospital admissions by half.",
    "Rain is expected over the weekend, with storms in the north.",
)


class TimedModel(Model):
    """Delegates to a model and adds up the time spent in prepare and predict."""

    def __init__(self, inner: Model) -> None:
        self.inner = inner
        self.spec = inner.spec
        self.seconds = 0.0
        self.loaded = False

    def load(self) -> None:
        # Once, though two runners (with and without a batch wait) share it.
        if not self.loaded:
            self.inner.load()
            self.loaded = True

    def prepare(self, item: ModelInput) -> Any:
        started = time.perf_counter()
        try:
            return self.inner.prepare(item)
        finally:
            self.seconds += time.perf_counter() - started

    def predict(self, prepared: Sequence[Any]) -> list[list[Label]]:
        started = time.perf_counter()
        try:
            return self.inner.predict(prepared)
        finally:
            self.seconds += time.perf_counter() - started


@dataclass(frozen=True)
class Mode:
    items_per_second: float
    p95_ms: float


@dataclass(frozen=True)
class ModelResult:
    model_id: str
    unbatched: Mode
    batched: Mode
    overhead_ms: float
    # The same with no batch wait: what the platform costs besides waiting
    # for companions that a lone item never gets.
    overhead_no_wait_ms: float


def _inputs() -> dict[int, ModelInput]:
    import skimage.data
    from PIL import Image

    png = io.BytesIO()
    astronaut = skimage.data.astronaut()  # type: ignore[no-untyped-call]
    Image.fromarray(astronaut).save(png, format="PNG")
    return {
        DataType.DATA_TYPE_TEXT: ModelInput(text=TEXT, classes=CLASSES),
        DataType.DATA_TYPE_IMAGE: ModelInput(media=png.getvalue(), content_type="image/png"),
        DataType.DATA_TYPE_AUDIO: ModelInput(media=SPEECH.read_bytes(), content_type="audio/wav"),
    }


def _p95_ms(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=20, method="inclusive")[18] * 1000


def _check(model_id: str, outcomes: Sequence[object]) -> None:
    for outcome in outcomes:
        if isinstance(outcome, Failure):
            raise RuntimeError(f"{model_id}: {outcome.field or 'model'}: {outcome.reason}")


async def _timed_run(runner: ModelRunner, items: list[ModelInput]) -> float:
    started = time.perf_counter()
    _check(runner.spec.id, await runner.run(items))
    return time.perf_counter() - started


def _runner(model: Model, max_wait_seconds: float) -> ModelRunner:
    defaults = InferenceSettings.model_fields
    return ModelRunner(
        model,
        InferenceMetrics(CollectorRegistry()),
        Capacity(defaults["max_items_in_flight"].default),
        Batching(BATCH_SIZE, max_wait_seconds, defaults["model_timeout_seconds"].default),
    )


async def _unbatched(
    runner: ModelRunner, timed: TimedModel, item: ModelInput, count: int
) -> tuple[Mode, float]:
    """One item at a time, each awaited before the next; also the overhead in ms per item."""
    timed.seconds = 0.0
    latencies = [await _timed_run(runner, [item]) for _ in range(count)]
    wall = sum(latencies)
    overhead_ms = (wall - timed.seconds) / count * 1000
    return Mode(count / wall, _p95_ms(latencies)), overhead_ms


async def _bench_model(model: Model, item: ModelInput) -> ModelResult:
    timed = TimedModel(model)
    runner = _runner(timed, InferenceSettings.model_fields["max_batch_wait_seconds"].default)
    no_wait = _runner(timed, 0.0)
    try:
        await runner.load()
        # Warm up: first calls allocate buffers and pick kernels.
        await _timed_run(runner, [item])
        per_item = await _timed_run(runner, [item])
        count = max(MIN_ITEMS, min(MAX_ITEMS, int(PHASE_SECONDS / per_item)))

        unbatched, overhead_ms = await _unbatched(runner, timed, item, count)
        await _timed_run(no_wait, [item])  # warms its thread
        _, overhead_no_wait_ms = await _unbatched(no_wait, timed, item, count)

        # Batched: waves of BATCH_SIZE concurrent callers, which the
        # micro-batcher gathers into one model call each.
        waves = max(1, round(count / BATCH_SIZE))
        latencies = []
        started = time.perf_counter()
        for _ in range(waves):
            latencies += await asyncio.gather(
                *(_timed_run(runner, [item]) for _ in range(BATCH_SIZE))
            )
        batched = Mode(waves * BATCH_SIZE / (time.perf_counter() - started), _p95_ms(latencies))
    finally:
        runner.close()
        no_wait.close()
    return ModelResult(model.spec.id, unbatched, batched, overhead_ms, overhead_no_wait_ms)


def _mixed_texts(count: int) -> list[str]:
    """One to four sentences each, so that every fetch mixes lengths."""
    return [
        " ".join(SENTENCES[(i + j) % len(SENTENCES)] for j in range(1 + i % 4))
        for i in range(count)
    ]


async def _fetch_rate(runner: ModelRunner, texts: list[str]) -> float:
    """Items per second when each fetch goes to the runner in one call."""
    items = [ModelInput(text=text, classes=CLASSES) for text in texts]
    await _timed_run(runner, items)  # warm-up
    fetches, started = 0, time.perf_counter()
    while fetches == 0 or time.perf_counter() - started < PHASE_SECONDS:
        await _timed_run(runner, items)
        fetches += 1
    return fetches * len(items) / (time.perf_counter() - started)


async def bench_zero_shot_fetches() -> tuple[float, float]:
    """Zero-shot items/s on fetches of one-sentence texts, and of mixed lengths,
    batched as the service's defaults batch them."""
    defaults = InferenceSettings.model_fields
    batch_size = defaults["max_batch_size"].default
    runner = ModelRunner(
        ZeroShotClassifier(),
        InferenceMetrics(CollectorRegistry()),
        Capacity(FETCH_ITEMS),
        Batching(
            batch_size,
            defaults["max_batch_wait_seconds"].default,
            defaults["model_timeout_seconds"].default,
        ),
    )
    try:
        one_sentence = await _fetch_rate(runner, [TEXT] * FETCH_ITEMS)
        mixed = await _fetch_rate(runner, _mixed_texts(FETCH_ITEMS))
    finally:
        runner.close()
    verdict = "meets" if one_sentence >= ZERO_SHOT_TARGET else "MISSES"
    print(f"zero-shot, fetches of {FETCH_ITEMS} texts in batches of {batch_size}:")
    print(
        f"  one sentence each:   {one_sentence:7.1f} items/s, "
        f"{verdict} the {ZERO_SHOT_TARGET:g} items/s target"
    )
    print(f"  1-4 sentences each:  {mixed:7.1f} items/s")
    return one_sentence, mixed


def _print_table(results: list[ModelResult]) -> None:
    header = (
        f"{'model':<28} {'unbatched/s':>11} {'p95 ms':>9} "
        f"{'batched/s':>10} {'p95 ms':>9} {'overhead ms':>12} {'no wait':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.model_id:<28} {r.unbatched.items_per_second:>11.1f} {r.unbatched.p95_ms:>9.1f} "
            f"{r.batched.items_per_second:>10.1f} {r.batched.p95_ms:>9.1f} "
            f"{r.overhead_ms:>12.2f} {r.overhead_no_wait_ms:>8.2f}"
        )


async def bench_models() -> list[ModelResult]:
    """Benchmark every built-in model, print a table, and return the figures."""
    from labelmesh.inference.models.catalog import built_in_models

    inputs = _inputs()
    results: list[ModelResult] = []
    failed: list[str] = []
    for model in built_in_models():
        print(f"model {model.spec.id} ...", flush=True)
        try:
            results.append(await _bench_model(model, inputs[model.spec.data_type]))
        except Exception as exc:
            print(f"  skipped: {exc}", flush=True)
            failed.append(model.spec.id)
    print()
    wait_ms = InferenceSettings.model_fields["max_batch_wait_seconds"].default * 1000
    print(f"models (batch size {BATCH_SIZE}, batch wait {wait_ms:g} ms, as the service's default)")
    _print_table(results)
    if results:
        worst = max(results, key=lambda r: r.overhead_ms)
        verdict = "meets" if worst.overhead_ms <= OVERHEAD_TARGET_MS else "MISSES"
        print(
            f"overhead: worst {worst.overhead_ms:.2f} ms/item ({worst.model_id}), "
            f"{verdict} the {OVERHEAD_TARGET_MS:g} ms target "
            "(unbatched runner.run time minus time in prepare and predict)"
        )
        worst = max(results, key=lambda r: r.overhead_no_wait_ms)
        verdict = "meets" if worst.overhead_no_wait_ms <= OVERHEAD_TARGET_MS else "MISSES"
        print(
            f"          worst {worst.overhead_no_wait_ms:.2f} ms/item ({worst.model_id}) "
            f"with no batch wait, which {verdict} the target"
        )
    if failed:
        print(f"not measured: {', '.join(failed)}")
    if any(r.model_id == ZeroShotClassifier.spec.id for r in results):
        print()
        await bench_zero_shot_fetches()
    return results
