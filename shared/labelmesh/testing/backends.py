"""One fixture, two backends: contract suites run each test against the
in-memory twins and against SecantusDB (the latter marked integration)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TypeVar

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document, MongoUnitOfWork, connect, ensure_core_indexes
from labelmesh.core.outbox import stored_events
from labelmesh.core.topics import Topics
from labelmesh.core.uow import UnitOfWork
from labelmesh.testing.memory import InMemoryUnitOfWork, MemoryState
from labelmesh.v1.events_pb2 import Envelope

R = TypeVar("R")


@dataclass
class Backend:
    """A unit of work and the storage behind it, in memory or in SecantusDB."""

    kind: str
    uow: UnitOfWork
    state: MemoryState | None = None
    db: AsyncDatabase[Document] | None = None

    def pick(
        self,
        memory: Callable[[MemoryState], R],
        mongo: Callable[[AsyncDatabase[Document]], R],
    ) -> R:
        """Build an adapter for this backend: the twin over the state, or the Mongo one."""
        if self.state is not None:
            return memory(self.state)
        assert self.db is not None
        return mongo(self.db)

    async def emitted(self) -> list[Envelope]:
        """Every event committed transactions emitted, in order."""
        if isinstance(self.uow, InMemoryUnitOfWork):
            return list(self.uow.outbox)
        assert self.db is not None
        return await stored_events(self.db)


@pytest.fixture(
    params=[pytest.param("memory"), pytest.param("mongo", marks=pytest.mark.integration)]
)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """Each test once on the in-memory twins and once on a fresh SecantusDB database."""
    if request.param == "memory":
        state = MemoryState()
        yield Backend("memory", InMemoryUnitOfWork(state), state=state)
        return
    uri: str = request.getfixturevalue("mongo_uri")
    name: str = request.getfixturevalue("unique_name")
    client = connect(uri)
    db = client[name]
    await ensure_core_indexes(db)
    try:
        yield Backend("mongo", MongoUnitOfWork(client, db, Topics(name)), db=db)
    finally:
        await client.close()
