"""The runner's promises, with small models that misbehave on purpose."""

import threading
import time
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry

from labelmesh.core.capacity import Capacity
from labelmesh.inference.metrics import InferenceMetrics
from labelmesh.inference.models.base import Model, ModelInput, ModelSpec, Task, UndecodableInput
from labelmesh.inference.runtime import Batching, Failure, ModelRunner
from labelmesh.v1.geometry_pb2 import Classification, Label


class Echo(Model):
    """Labels a text with itself; "bad" cannot be decoded, "crash" breaks a
    batch, "hang" never returns within the time limit."""

    def __init__(self) -> None:
        self.spec = ModelSpec("echo", "1", Task.CLASSIFICATION, 1, (), "test model")
        self.loads = 0
        self.batches: list[list[str]] = []
        self.threads: set[str] = set()
        self.release = threading.Event()

    def load(self) -> None:
        self.loads += 1

    def prepare(self, item: ModelInput) -> Any:
        if item.text == "bad":
            raise UndecodableInput("text", "not readable")
        return item.text

    def predict(self, prepared: Sequence[Any]) -> list[list[Label]]:
        self.threads.add(threading.current_thread().name)
        self.batches.append(list(prepared))
        if "hang" in prepared:
            self.release.wait(5)
        if "crash" in prepared:
            raise RuntimeError("segment fault in model")
        return [
            [Label(classification=Classification(label=text), confidence=0.5)] for text in prepared
        ]


def runner(model: Model, timeout: float = 2.0, capacity: Capacity | None = None) -> ModelRunner:
    return ModelRunner(
        model,
        InferenceMetrics(CollectorRegistry()),
        capacity or Capacity(100),
        Batching(max_batch_size=8, max_wait_seconds=0.01, timeout_seconds=timeout),
    )


def texts(*values: str) -> list[ModelInput]:
    return [ModelInput(text=v) for v in values]


def names(outcomes: list[Any]) -> list[str]:
    return [o.reason if isinstance(o, Failure) else o[0].classification.label for o in outcomes]


async def test_loads_once_and_batches_on_a_worker_thread() -> None:
    model = Echo()
    run = runner(model)
    assert names(await run.run(texts("a", "b", "c"))) == ["a", "b", "c"]
    assert names(await run.run(texts("d"))) == ["d"]
    assert model.loads == 1
    assert model.batches == [["a", "b", "c"], ["d"]]
    assert threading.current_thread().name not in model.threads


async def test_an_undecodable_item_fails_alone() -> None:
    model = Echo()
    outcomes = await runner(model).run(texts("a", "bad", "c"))
    assert outcomes[1] == Failure("text", "not readable")
    assert names([outcomes[0], outcomes[2]]) == ["a", "c"]
    assert model.batches == [["a", "c"]]


async def test_an_item_that_crashes_the_model_fails_alone() -> None:
    model = Echo()
    outcomes = await runner(model).run(texts("a", "crash", "c"))
    assert names(outcomes) == ["a", "model 'echo' failed: segment fault in model", "c"]
    assert model.batches[0] == ["a", "crash", "c"]  # the batch, then one by one
    assert model.batches[1:] == [["a"], ["crash"], ["c"]]


async def test_a_hanging_model_times_out_and_the_next_call_gets_a_fresh_thread() -> None:
    model = Echo()
    run = runner(model, timeout=0.3)
    started = time.monotonic()
    outcomes = await run.run(texts("hang"))
    assert time.monotonic() - started < 2
    assert outcomes == [Failure("", "model 'echo' timed out after 0.3 s")]
    assert names(await run.run(texts("after"))) == ["after"]
    model.release.set()


async def test_a_model_that_cannot_load_says_why_for_every_item() -> None:
    class Broken(Echo):
        def load(self) -> None:
            raise FileNotFoundError("weights missing; run make setup")

    outcomes = await runner(Broken()).run(texts("a", "b"))
    assert [o.reason for o in outcomes if isinstance(o, Failure)] == [
        "model 'echo' could not be loaded: weights missing; run make setup"
    ] * 2


async def test_items_count_against_capacity_while_in_the_model() -> None:
    model = Echo()
    capacity = Capacity(2)
    seen: list[tuple[int, bool]] = []
    original = model.predict

    def predict(prepared: Sequence[Any]) -> list[list[Label]]:
        seen.append((capacity.used, capacity.full))
        return original(prepared)

    model.predict = predict  # type: ignore[method-assign]
    await runner(model, capacity=capacity).run(texts("a", "b"))
    assert seen == [(2, True)]
    assert (capacity.used, capacity.full) == (0, False)
