"""Each credential's request rate: a burst, then a steady refill."""

from __future__ import annotations

import pytest

from labelmesh.core.errors import RateLimited
from labelmesh.core.rate_limit import RateLimitedAuthenticator, RateLimiter
from labelmesh.testing.access import StaticAuthenticator, principal


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_allowed_then_the_rate_refills_it() -> None:
    clock = Clock()
    limiter = RateLimiter(per_second=2, burst=3, clock=clock)
    for _ in range(3):
        limiter.take("key-a")
    with pytest.raises(RateLimited) as refused:
        limiter.take("key-a")
    assert refused.value.retry_after == 1
    limiter.take("key-b")  # every credential has a bucket of its own
    clock.now += 0.5  # one request's worth
    limiter.take("key-a")
    with pytest.raises(RateLimited):
        limiter.take("key-a")
    clock.now += 60
    for _ in range(3):  # refilled to the burst, not beyond
        limiter.take("key-a")
    with pytest.raises(RateLimited):
        limiter.take("key-a")


async def test_the_authenticator_spends_the_callers_rate_by_key_or_subject() -> None:
    ana, bo = principal("ana"), principal("bo")
    inner = StaticAuthenticator({"ana-1": ana, "ana-2": ana, "bo": bo})
    limited = RateLimitedAuthenticator(inner, RateLimiter(per_second=1, burst=2, clock=Clock()))
    assert await limited.authenticate("ana-1") == ana
    await limited.authenticate("ana-2")
    with pytest.raises(RateLimited):  # two credentials of one subject share its rate
        await limited.authenticate("ana-1")
    assert await limited.authenticate("bo") == bo
