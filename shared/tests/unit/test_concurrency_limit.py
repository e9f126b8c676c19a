"""The adaptive in-flight limit: cut when requests are slow, regained when they are quick."""

from __future__ import annotations

import pytest

from labelmesh.core.concurrency_limit import AdaptiveLimit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_quick_requests_keep_the_configured_limit() -> None:
    limit = AdaptiveLimit(64, slow_seconds=2.5)
    for _ in range(1000):
        limit.observe(0.01)
    assert limit.current == 64


def test_a_slow_request_cuts_the_limit_once_per_cooldown() -> None:
    clock = Clock()
    limit = AdaptiveLimit(64, slow_seconds=2.5, cooldown_seconds=0.5, clock=clock)
    limit.observe(3)
    limit.observe(5)  # the same burst
    assert limit.current == 48
    clock.now = 0.6
    limit.observe(5)
    assert limit.current == 36


def test_the_limit_never_drops_below_its_floor() -> None:
    clock = Clock()
    limit = AdaptiveLimit(64, slow_seconds=2.5, clock=clock)
    for step in range(100):
        clock.now = step
        limit.observe(5)
    assert limit.current == limit.floor == 4


def test_quick_requests_win_the_limit_back_one_at_a_time() -> None:
    limit = AdaptiveLimit(8, slow_seconds=2.5)
    limit.observe(5)
    assert limit.current == 6
    limit.observe(0.01)
    assert limit.current == 7
    for _ in range(100):
        limit.observe(0.01)
    assert limit.current == 8


def test_the_limit_is_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AdaptiveLimit(0, slow_seconds=1)
