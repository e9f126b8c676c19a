import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client import CollectorRegistry

from labelmesh.inference.batching import MicroBatcher
from labelmesh.inference.metrics import InferenceMetrics


def make(run: object, size: int = 4, wait: float = 0.05) -> MicroBatcher[int, int]:
    return MicroBatcher(
        run,  # type: ignore[arg-type]
        ThreadPoolExecutor(1),
        size,
        wait,
        InferenceMetrics(CollectorRegistry()),
        "m",
    )


async def test_concurrent_calls_share_one_model_call_off_the_event_loop() -> None:
    calls: list[tuple[list[int], str]] = []

    def run(values: Sequence[int]) -> list[int]:
        calls.append((list(values), threading.current_thread().name))
        return [v * 10 for v in values]

    batcher = make(run, size=4)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(10)))
    assert results == [i * 10 for i in range(10)]
    assert [len(values) for values, _ in calls] == [4, 4, 2]
    assert all(name != threading.current_thread().name for _, name in calls)


async def test_a_failing_batch_fails_its_callers_only() -> None:
    def run(values: Sequence[int]) -> list[int]:
        if 13 in values:
            raise RuntimeError("model crashed")
        return list(values)

    batcher = make(run, size=2)
    bad = asyncio.gather(batcher.submit(13), batcher.submit(1))
    with pytest.raises(RuntimeError, match="model crashed"):
        await bad
    assert await batcher.submit_many([5, 6]) == [5, 6]
