"""A request rate per credential: each API key (or token subject) gets a bucket
of `burst` requests that refills at `per_second`. Past it, the caller hears
429 / RESOURCE_EXHAUSTED with how long to wait, instead of crowding others out.

The buckets are per replica: N replicas let a key make N times the rate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from labelmesh.core.access import Principal
from labelmesh.core.authentication import Authenticator
from labelmesh.core.errors import RateLimited

# Buckets of callers idle this long are dropped, so memory stays bounded.
IDLE_SECONDS = 300.0


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(
        self, per_second: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_second = per_second
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._swept = clock()

    def take(self, caller: str) -> None:
        """Spend one request of `caller`'s; raises RateLimited when none is left."""
        now = self._clock()
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = self._buckets[caller] = _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.per_second)
        bucket.at = now
        if bucket.tokens < 1:
            wait = math.ceil((1 - bucket.tokens) / self.per_second)
            raise RateLimited(
                f"more than {self.per_second:g} requests per second for this credential",
                retry_after=max(1, wait),
            )
        bucket.tokens -= 1
        if now - self._swept > IDLE_SECONDS:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.at < IDLE_SECONDS}
        self._swept = now


class RateLimitedAuthenticator:
    """An authenticator whose callers each spend one request of their rate."""

    def __init__(self, inner: Authenticator, limiter: RateLimiter) -> None:
        self.inner = inner
        self.limiter = limiter

    async def authenticate(self, credential: str) -> Principal:
        principal = await self.inner.authenticate(credential)
        self.limiter.take(principal.key_id or principal.subject)
        return principal

    async def close(self) -> None:
        await self.inner.close()
