"""The unit-of-work contract, against the in-memory twin and SecantusDB."""

from __future__ import annotations

import pytest

from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.core.projects import MongoProjectDirectory, ProjectDirectory
from labelmesh.core.uow import Transaction
from labelmesh.testing.backends import Backend
from labelmesh.testing.memory import InMemoryProjectDirectory
from labelmesh.v1.events_pb2 import Envelope, ItemIngested, ProjectSpec


def event(text: str) -> Envelope:
    return new_envelope(
        ItemIngested(text=text), producer="t", actor=user_actor("a"), project_id="p", item_id=text
    )


def directory(backend: Backend) -> ProjectDirectory:
    return backend.pick(InMemoryProjectDirectory, MongoProjectDirectory)


async def test_a_committed_transaction_keeps_its_writes_and_emits_its_events(
    backend: Backend,
) -> None:
    projects = directory(backend)
    async with backend.uow.begin() as tx:
        await projects.save(tx, ProjectSpec(project_id="p1", name="news"))
        tx.emit(event("kept"))
    assert (await projects.get("p1")) == ProjectSpec(project_id="p1", name="news")
    assert [e.item_id for e in await backend.emitted()] == ["kept"]


async def test_a_failed_transaction_leaves_nothing_written_and_emits_nothing(
    backend: Backend,
) -> None:
    projects = directory(backend)
    lost = event("lost")
    with pytest.raises(RuntimeError, match="after writing"):
        async with backend.uow.begin() as tx:
            await projects.save(tx, ProjectSpec(project_id="p1"))
            assert await tx.claim_new([lost], "c") == [lost]
            tx.emit(lost)
            raise RuntimeError("failed after writing")
    assert await projects.get("p1") is None
    assert await backend.emitted() == []
    async with backend.uow.begin() as tx:
        assert await tx.claim_new([lost], "c") == [lost], "the rolled-back claim did not stick"


async def test_claims_are_once_per_event_and_keep_arrival_order(backend: Backend) -> None:
    first, second, third = event("a"), event("b"), event("c")
    async with backend.uow.begin() as tx:
        assert await tx.claim_new([first], "c") == [first]
    async with backend.uow.begin() as tx:
        fresh = await tx.claim_new([third, first, second, third], "c")
    assert fresh == [third, second]
    async with backend.uow.begin() as tx:
        assert await tx.claim_events([first.event_id, "unknown"], "c") == {"unknown"}


async def test_run_returns_what_the_work_returns(backend: Backend) -> None:
    projects = directory(backend)

    async def work(tx: Transaction) -> str:
        await projects.save(tx, ProjectSpec(project_id="p2"))
        return "done"

    assert await backend.uow.run(work) == "done"
    assert await projects.get("p2") == ProjectSpec(project_id="p2")


async def test_an_unknown_project_is_none_and_a_saved_one_is_replaced(backend: Backend) -> None:
    projects = directory(backend)
    assert await projects.get("nope") is None
    async with backend.uow.begin() as tx:
        await projects.save(tx, ProjectSpec(project_id="p", classes=["a"]))
    async with backend.uow.begin() as tx:
        await projects.save(tx, ProjectSpec(project_id="p", classes=["a", "b"]))
    stored = await projects.get("p")
    assert stored is not None and list(stored.classes) == ["a", "b"]
