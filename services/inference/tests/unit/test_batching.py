import asyncio

import pytest

from labelmesh.inference.batching import MicroBatcher


async def test_calls_arriving_while_the_model_is_busy_share_the_next_call() -> None:
    calls: list[list[int]] = []

    async def run(values: list[int]) -> list[int]:
        calls.append(values)
        await asyncio.sleep(0.01)
        return [v * 10 for v in values]

    batcher = MicroBatcher(run, max_batch_size=4, max_wait_seconds=0.05)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(10)))
    assert results == [i * 10 for i in range(10)]
    # The idle model takes the first at once; the rest queue behind it in batches.
    assert calls == [[0], [1, 2, 3, 4], [5, 6, 7, 8], [9]]


async def test_a_lone_call_on_an_idle_model_does_not_wait() -> None:
    calls: list[list[int]] = []

    async def run(values: list[int]) -> list[int]:
        calls.append(values)
        return values

    batcher = MicroBatcher(run, max_batch_size=100, max_wait_seconds=60)
    assert await asyncio.wait_for(batcher.submit(7), timeout=5) == 7
    assert calls == [[7]]


async def test_a_failing_batch_fails_its_callers_only() -> None:
    async def run(values: list[int]) -> list[int]:
        if 13 in values:
            raise RuntimeError("model crashed")
        return values

    batcher = MicroBatcher(run, max_batch_size=2, max_wait_seconds=0.05)
    bad = asyncio.gather(batcher.submit(13), batcher.submit(1))
    with pytest.raises(RuntimeError, match="model crashed"):
        await bad
    assert await batcher.submit_many([5, 6]) == [5, 6]
