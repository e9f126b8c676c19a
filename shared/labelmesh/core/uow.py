"""The unit-of-work port: a transaction that writes a state change, its
processed-event marks and its outgoing events together, or none of them.

MongoDB implements it in `labelmesh.core.mongo`; an in-memory twin for unit
tests lives in `labelmesh.testing.memory`. The same contract suite runs
against both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol, TypeVar

from labelmesh.v1.events_pb2 import Envelope

T = TypeVar("T")


class Transaction(Protocol):
    """One open transaction. Repositories take it to write inside it."""

    async def claim_events(self, event_ids: Sequence[str], consumer: str) -> set[str]:
        """Record that events are handled; returns the ids not handled before."""
        ...

    async def claim_new(self, envelopes: Sequence[Envelope], consumer: str) -> list[Envelope]:
        """The envelopes not handled before, each once, in order; they are now claimed."""
        ...

    def emit(self, *envelopes: Envelope) -> None:
        """Queue events; they are written to the outbox when the transaction commits."""
        ...


class UnitOfWork(Protocol):
    """Opens transactions on one service's data."""

    def begin(self) -> AbstractAsyncContextManager[Transaction]:
        """A transaction that commits when the block ends and rolls back if it raises."""
        ...

    async def run(self, work: Callable[[Transaction], Awaitable[T]], attempts: int = 8) -> T:
        """Run `work` in a transaction, again from the start after a transient conflict."""
        ...


async def claim_new_in_order(
    tx: Transaction, envelopes: Sequence[Envelope], consumer: str
) -> list[Envelope]:
    """`claim_new` on top of `claim_events`: each fresh envelope once, in order."""
    fresh = await tx.claim_events([e.event_id for e in envelopes], consumer)
    new = []
    for envelope in envelopes:
        if envelope.event_id in fresh:
            fresh.discard(envelope.event_id)
            new.append(envelope)
    return new
