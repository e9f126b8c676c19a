"""The checkpoint loop, on the in-memory twins."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from labelmesh.audit.checkpoints import Checkpointer
from labelmesh.audit.metrics import AuditMetrics
from labelmesh.audit.usecases import Audit
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.testing.memory import InMemoryUnitOfWork, MemoryState
from labelmesh.testing.twins.audit import InMemoryAuditRepository
from labelmesh.v1.events_pb2 import Envelope, ItemIngested


async def test_the_loop_checkpoints_when_a_project_fills_up_and_when_time_passes() -> None:
    state = MemoryState()
    uow = InMemoryUnitOfWork(state)
    repository = InMemoryAuditRepository(state)
    audit = Audit(repository, AuditMetrics(CollectorRegistry()), checkpoint_entries=2)
    # An hour between timed passes: only the entry count can trigger one here.
    checkpointer = Checkpointer(audit, uow, 3600)
    loop = asyncio.create_task(checkpointer.run())
    try:
        events = [
            new_envelope(
                ItemIngested(), producer="x", actor=user_actor("a"), project_id="p", item_id="i"
            )
            for _ in range(2)
        ]
        async with uow.begin() as tx:
            entries = await audit.record(tx, events)
        audit.count_recorded(entries)
        for _ in range(100):
            if await repository.checkpoints("p"):
                break
            await asyncio.sleep(0.01)
        [checkpoint] = await repository.checkpoints("p")
        assert (checkpoint.sequence, checkpoint.entries) == (1, 2)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)

    timed = Checkpointer(audit, uow, 0.01)
    async with uow.begin() as tx:
        await audit.record(tx, [Envelope(event_id="e3", project_id="p", item_id="i")])
    loop = asyncio.create_task(timed.run())
    try:
        for _ in range(100):
            if len(await repository.checkpoints("p")) == 2:
                break
            await asyncio.sleep(0.01)
        assert [c.sequence for c in await repository.checkpoints("p")] == [1, 2]
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
