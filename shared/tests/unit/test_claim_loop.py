"""A claiming worker's loop: on at once while it runs jobs, waiting for a wake
when none waited or claiming failed."""

from __future__ import annotations

import asyncio

import pytest

from labelmesh.core.claim_loop import run_claims


async def test_the_loop_waits_after_a_failure_or_an_empty_claim_and_runs_on_while_busy(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcomes: list[bool | Exception] = [RuntimeError("database down"), True, True, False]
    calls = 0
    wake, idle = asyncio.Event(), asyncio.Event()

    async def run_next() -> bool:
        nonlocal calls
        calls += 1
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        if not outcome:
            idle.set()
        return outcome

    loop = asyncio.create_task(run_claims(run_next, wake, 3600.0, "a test job"))
    await asyncio.sleep(0.05)
    assert calls == 1, "after a failure the loop waits"
    assert "claiming a test job failed; retrying" in caplog.text

    wake.set()
    await asyncio.wait_for(idle.wait(), 5)
    await asyncio.sleep(0.05)
    assert calls == 4, "jobs ran one after another, then the loop waits again"
    assert not wake.is_set()
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
