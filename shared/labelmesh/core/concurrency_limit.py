"""How many requests a service admits at once, adapted to how fast they finish.

A fixed limit that suits a healthy service lets a slowed-down one (a busy
database, a model under load) take in more than it can finish in time: every
request then waits out its deadline. So the limit follows the service: it is
cut by a quarter when a request takes more than `slow_seconds`, at most once
per `cooldown_seconds` so that one burst counts once, and it grows back by one
for every request that finishes sooner. Cuts compound while the service stays
slow; once it is quick again the limit is back at its ceiling within a few dozen
requests, so that a service that recovered does not go on refusing work.
"""

from __future__ import annotations

import time
from collections.abc import Callable

DECREASE = 0.75


class AdaptiveLimit:
    def __init__(
        self,
        ceiling: int,
        slow_seconds: float,
        *,
        cooldown_seconds: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ceiling < 1:
            raise ValueError("limit must be at least 1")
        self.ceiling = ceiling
        self.floor = max(1, ceiling // 16)
        self.current = ceiling
        self.slow_seconds = slow_seconds
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._last_cut = float("-inf")

    def observe(self, seconds: float) -> None:
        """A request was in flight for `seconds`."""
        if seconds > self.slow_seconds:
            now = self._clock()
            if now - self._last_cut >= self.cooldown_seconds:
                self._last_cut = now
                self.current = max(self.floor, int(self.current * DECREASE))
        elif self.current < self.ceiling:
            self.current += 1
