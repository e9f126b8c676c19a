"""In-memory twins of the shared ports, for unit tests without a broker or database.

`MemoryState` holds named tables of records. A transaction of
`InMemoryUnitOfWork` copies every table when it begins and puts the copy back
if its block raises, so a twin rolls back like the real thing. Transactions
run one at a time. The contract suites in `shared/tests` run the same
assertions against these twins and against SecantusDB.
"""

from __future__ import annotations

import asyncio
import copy
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from labelmesh.core.uow import Transaction, claim_new_in_order
from labelmesh.v1.events_pb2 import Envelope, ProjectSpec

T = TypeVar("T")
PROCESSED = "processed_events"


class MemoryState:
    """Tables of records, keyed by name; what a transaction can roll back."""

    def __init__(self) -> None:
        self.tables: defaultdict[str, dict[Any, Any]] = defaultdict(dict)

    def table(self, name: str) -> dict[Any, Any]:
        return self.tables[name]

    def snapshot(self) -> dict[str, dict[Any, Any]]:
        return copy.deepcopy(dict(self.tables))

    def restore(self, saved: dict[str, dict[Any, Any]]) -> None:
        # In place, so that repositories holding a table keep seeing the live one.
        for name, table in self.tables.items():
            table.clear()
            table.update(saved.get(name, {}))


class InMemoryTransaction:
    def __init__(self, state: MemoryState) -> None:
        self.state = state
        self.outgoing: list[Envelope] = []

    async def claim_events(self, event_ids: Sequence[str], consumer: str) -> set[str]:
        processed = self.state.table(PROCESSED)
        fresh = set(event_ids) - set(processed)
        for event_id in fresh:
            processed[event_id] = consumer
        return fresh

    async def claim_new(self, envelopes: Sequence[Envelope], consumer: str) -> list[Envelope]:
        return await claim_new_in_order(self, envelopes, consumer)

    def emit(self, *envelopes: Envelope) -> None:
        self.outgoing.extend(envelopes)


class InMemoryUnitOfWork:
    """The unit of work over a `MemoryState`; `outbox` holds what committed transactions emitted."""

    def __init__(self, state: MemoryState | None = None) -> None:
        self.state = state or MemoryState()
        self.outbox: list[Envelope] = []
        self.commits = 0
        self._one_at_a_time = asyncio.Lock()

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[InMemoryTransaction]:
        async with self._one_at_a_time:
            saved = self.state.snapshot()
            tx = InMemoryTransaction(self.state)
            try:
                yield tx
            except BaseException:
                self.state.restore(saved)
                raise
            self.outbox.extend(tx.outgoing)
            self.commits += 1

    async def run(self, work: Callable[[Transaction], Awaitable[T]], attempts: int = 8) -> T:
        async with self.begin() as tx:
            return await work(tx)

    def emitted(self, payload_name: str) -> list[Envelope]:
        """Committed events whose payload is `payload_name` (e.g. "item_ingested")."""
        return [e for e in self.outbox if e.WhichOneof("payload") == payload_name]


class InMemoryProjectDirectory:
    def __init__(self, state: MemoryState) -> None:
        self.projects = state.table("projects")

    async def save(self, tx: Transaction, project: ProjectSpec) -> None:
        self.projects[project.project_id] = project.SerializeToString()

    async def get(self, project_id: str) -> ProjectSpec | None:
        stored = self.projects.get(project_id)
        return ProjectSpec.FromString(stored) if stored is not None else None
