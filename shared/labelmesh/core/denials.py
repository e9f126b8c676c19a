"""Refused requests, recorded as AccessDenied events for the audit log.

Each (caller, operation) pair is recorded at most once per window: the first
refusal at once, later ones counted into the next record's `sampled_count`,
so that a client retrying in a loop cannot flood the log. Windows that ended
are swept once a window, so memory holds only the callers refused lately.
Records are side events (`labelmesh.core.side_events`): never in the request's way.

The service's recorder rides in a context variable that `serve` sets before
it starts its servers, so every request task of the service sees its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from labelmesh.core.envelopes import new_envelope
from labelmesh.core.errors import Forbidden
from labelmesh.core.side_events import SideEvents
from labelmesh.core.uow import UnitOfWork
from labelmesh.v1.events_pb2 import AccessDenied

WINDOW_SECONDS = 60.0


@dataclass
class _Window:
    """One caller's refusals of one operation since the last record of them."""

    opened_at: float
    held_back: int = 0
    latest: Forbidden | None = None


class DenialRecorder:
    def __init__(
        self,
        uow: UnitOfWork,
        service: str,
        window_seconds: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.uow = uow
        self.service = service
        self.window_seconds = window_seconds
        self._clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}
        self._swept_at = clock()
        self._events = SideEvents(uow)

    def record(self, refusal: Forbidden, operation: str) -> None:
        """Note one refusal; write an AccessDenied event if its window allows."""
        if refusal.actor is None:
            return
        key = (f"{refusal.actor.kind}:{refusal.actor.id}", operation)
        now = self._clock()
        window = self._windows.get(key)
        if window is not None and now - window.opened_at < self.window_seconds:
            window.held_back += 1
            window.latest = refusal
        else:
            self._windows[key] = _Window(now)
            self._write(refusal, operation, 1 + (window.held_back if window else 0))
        self._sweep(now)

    @property
    def open_windows(self) -> int:
        """How many (caller, operation) pairs the recorder holds."""
        return len(self._windows)

    def _sweep(self, now: float) -> None:
        """Once a window, forget the windows that ended, writing what they held
        back: the recorder holds only callers refused in the last window, and a
        caller who stops retrying still has every refusal counted."""
        if now - self._swept_at < self.window_seconds:
            return
        self._swept_at = now
        for key, window in list(self._windows.items()):
            if now - window.opened_at >= self.window_seconds:
                del self._windows[key]
                if window.latest is not None:
                    self._write(window.latest, key[1], window.held_back)

    def _write(self, refusal: Forbidden, operation: str, count: int) -> None:
        assert refusal.actor is not None
        event = new_envelope(
            AccessDenied(
                service=self.service,
                operation=operation,
                reason=str(refusal),
                sampled_count=count,
            ),
            producer=self.service,
            actor=refusal.actor,
            project_id=refusal.project_id,
        )
        self._events.emit(event)

    async def drain(self) -> None:
        """Wait for the records being written."""
        await self._events.drain()


CURRENT: ContextVar[DenialRecorder | None] = ContextVar("denial_recorder", default=None)


def record_denied(refusal: Forbidden, operation: str) -> None:
    """Record a refusal with the running service's recorder (none outside a service)."""
    recorder = CURRENT.get()
    if recorder is not None:
        recorder.record(refusal, operation)
