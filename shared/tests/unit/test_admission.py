"""The admission gate: slots, the bounded wait for one, and shedding."""

from __future__ import annotations

import asyncio

import pytest

from labelmesh.core.admission import AdmissionGate
from labelmesh.core.concurrency_limit import AdaptiveLimit


def gate(limit: int, wait_seconds: float) -> AdmissionGate:
    return AdmissionGate(AdaptiveLimit(limit, slow_seconds=60), wait_seconds)


async def test_admits_up_to_the_limit_then_sheds_without_a_wait() -> None:
    slots = gate(2, 0)
    assert await slots.enter()
    assert await slots.enter()
    assert not await slots.enter()
    assert slots.in_flight == 2


async def test_a_slot_given_back_goes_to_the_longest_waiter() -> None:
    slots = gate(2, 30)
    assert await slots.enter()
    assert await slots.enter()
    first = asyncio.create_task(slots.enter())
    await asyncio.sleep(0)
    second = asyncio.create_task(slots.enter())
    await asyncio.sleep(0)
    slots.leave()
    assert await first
    assert not second.done()
    slots.leave()
    assert await second
    assert slots.in_flight == 2


async def test_a_waiter_is_shed_when_no_slot_comes_free_in_time() -> None:
    slots = gate(1, 0.01)
    assert await slots.enter()
    assert not await slots.enter()
    slots.leave()
    assert slots.in_flight == 0
    assert await slots.enter()


async def test_no_more_requests_wait_than_there_are_slots() -> None:
    slots = gate(1, 30)
    assert await slots.enter()
    waiting = asyncio.create_task(slots.enter())
    await asyncio.sleep(0)
    assert not await slots.enter()  # the one waiting place is taken
    slots.leave()
    assert await waiting


async def test_a_cancelled_waiter_gives_up_its_place() -> None:
    slots = gate(1, 30)
    assert await slots.enter()
    waiting = asyncio.create_task(slots.enter())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    slots.leave()
    assert slots.in_flight == 0


async def test_a_slot_handed_over_as_the_wait_is_cancelled_is_passed_on() -> None:
    slots = gate(1, 30)
    assert await slots.enter()
    waiting = asyncio.create_task(slots.enter())
    await asyncio.sleep(0)
    slots.leave()  # hands the slot to the waiter, which has not run yet
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert slots.in_flight == 0
    assert await slots.enter()


async def test_a_limit_that_shrank_below_what_is_in_flight_hands_no_slot_over() -> None:
    limit = AdaptiveLimit(4, slow_seconds=1)
    slots = AdmissionGate(limit, wait_seconds=30)
    for _ in range(4):
        assert await slots.enter()
    limit.observe(2)  # slow: 4 -> 3
    waiting = asyncio.create_task(slots.enter())
    await asyncio.sleep(0)
    slots.leave()  # 3 in flight: at the new limit, so the waiter still waits
    await asyncio.sleep(0)
    assert not waiting.done()
    slots.leave()
    assert await waiting
    assert slots.in_flight == 3
