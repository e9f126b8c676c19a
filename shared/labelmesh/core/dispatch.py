"""The one way a service handles the events it consumes.

A service declares an `EventTable`: for each payload type it consumes, the
step that handles it, and the payload types it deliberately ignores. The
table is checked when it is built: every event of a consumed topic family
must be routed or declared ignored, so an event added to the contract cannot
be dropped silently.

A `Dispatcher` handles a whole fetch: it lets the service prepare the fetch
outside any transaction (reads, model calls), then opens one transaction,
claims the event ids, runs each fresh event's step in key order, lets the
fetch write what it gathered, and commits. A service may cap how many events
one transaction takes; a longer fetch is then handled in consecutive parts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from google.protobuf.message import Message

from labelmesh.core.envelopes import payload_of
from labelmesh.core.topics import FAMILY_OF_EVENT
from labelmesh.core.uow import Transaction, UnitOfWork
from labelmesh.v1.events_pb2 import Envelope

P = TypeVar("P", bound=Message)
F = TypeVar("F", contravariant=True)
FetchT = TypeVar("FetchT", bound="Fetch")

Step = Callable[[F, Transaction, Envelope, P], Awaitable[None]]


class Fetch(Protocol):
    """What one fetch's steps share: the service's dependencies and anything
    gathered for a bulk write at the end."""

    async def finish(self, tx: Transaction) -> None:
        """Write what the steps gathered, inside the fetch's transaction."""
        ...

    def committed(self) -> None:
        """Called once the transaction committed (count metrics here)."""
        ...


class PlainFetch:
    """A fetch whose steps write as they go and gather nothing."""

    async def finish(self, tx: Transaction) -> None:
        return None

    def committed(self) -> None:
        return None


@dataclass(frozen=True)
class Route(Generic[F]):
    """One payload type and the step that handles it."""

    payload: type[Message]
    step: Step[F, Any]

    @property
    def event_type(self) -> str:
        return str(self.payload.DESCRIPTOR.full_name)


def on(payload: type[P], step: Step[F, P]) -> Route[F]:
    """Route `payload` to `step`; the step's payload parameter is checked against it."""
    return Route(payload, step)


class IncompleteEventTable(ValueError):
    """A table misses an event of a family it consumes, or routes one twice."""


def family_of(payload: type[Message]) -> str:
    return FAMILY_OF_EVENT[payload.DESCRIPTOR.name]


@dataclass(frozen=True)
class EventTable(Generic[FetchT]):
    """Every payload type a service consumes, with its step, and those it ignores."""

    routes: Sequence[Route[FetchT]]
    ignored: Collection[type[Message]] = ()
    steps: dict[str, Step[FetchT, Any]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        steps: dict[str, Step[FetchT, Any]] = {}
        for route in self.routes:
            if route.event_type in steps:
                raise IncompleteEventTable(f"{route.event_type} is routed twice")
            steps[route.event_type] = route.step
        object.__setattr__(self, "steps", steps)
        both = {p.DESCRIPTOR.full_name for p in self.ignored} & set(steps)
        if both:
            raise IncompleteEventTable(f"{sorted(both)} are both routed and ignored")
        declared = set(steps) | {p.DESCRIPTOR.full_name for p in self.ignored}
        missing = sorted(
            f"labelmesh.v1.{name}"
            for name, family in FAMILY_OF_EVENT.items()
            if family in self.families and f"labelmesh.v1.{name}" not in declared
        )
        if missing:
            raise IncompleteEventTable(
                f"events of consumed families have no step and are not declared ignored: "
                f"{', '.join(missing)}"
            )

    @property
    def families(self) -> list[str]:
        """The topic families to consume: those of the routed payloads, in a stable order."""
        return sorted({family_of(route.payload) for route in self.routes})

    def handles(self, event_type: str) -> bool:
        return event_type in self.steps


class Dispatcher(Generic[FetchT]):
    """Handles fetches of one service through its event table."""

    def __init__(
        self,
        table: EventTable[FetchT],
        uow: UnitOfWork,
        consumer: str,
        start: Callable[[Sequence[Envelope]], Awaitable[FetchT]],
        max_per_transaction: int | None = None,
        claims_events: bool = True,
    ) -> None:
        """`claims_events=False` where the handlers drop replays themselves (audit's
        entries are keyed by event id): it saves a processed-event mark per event."""
        if max_per_transaction is not None and max_per_transaction < 1:
            raise ValueError("max_per_transaction must be at least 1")
        self.table = table
        self.uow = uow
        self.consumer = consumer
        self.start = start
        self.max_per_transaction = max_per_transaction
        self.claims_events = claims_events

    def handles(self, event_type: str) -> bool:
        return self.table.handles(event_type)

    @property
    def families(self) -> list[str]:
        return self.table.families

    async def handle(self, envelopes: Sequence[Envelope]) -> None:
        """Handle a fetch (already in key order) in one transaction, or in consecutive
        ones of at most `max_per_transaction` events; replays have no effect.

        Anything raised leaves the failing part unwritten (parts before it stay
        committed, and are dropped as replays when the consumer retries, or
        handles the events one by one).
        """
        routed = [e for e in envelopes if self.table.handles(e.event_type)]
        size = self.max_per_transaction or len(routed) or 1
        for first in range(0, len(routed), size):
            await self._handle_part(routed[first : first + size])

    async def _handle_part(self, routed: Sequence[Envelope]) -> None:
        fetch = await self.start(routed)
        async with self.uow.begin() as tx:
            fresh = await tx.claim_new(routed, self.consumer) if self.claims_events else routed
            for envelope in fresh:
                step = self.table.steps[envelope.event_type]
                await step(fetch, tx, envelope, payload_of(envelope))
            await fetch.finish(tx)
        fetch.committed()
