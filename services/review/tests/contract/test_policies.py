"""The policy repository, on the twin and on SecantusDB."""

from __future__ import annotations

import pytest

from labelmesh.testing.backends import Backend
from labelmesh.v1.events_pb2 import ReviewPolicy, ReviewStage

from .builders import review_store


async def test_a_saved_policy_is_current_whole(backend: Backend) -> None:
    repository = review_store(backend).policies
    policy = ReviewPolicy(version=1, overlap=3, stages=[ReviewStage(name="check", role="x")])
    assert await repository.current("p1") is None
    async with backend.uow.begin() as tx:
        assert await repository.save(tx, "p1", policy)
    assert await repository.current("p1") == policy
    assert await repository.current("p2") is None


async def test_only_a_newer_version_replaces_the_current_one(backend: Backend) -> None:
    repository = review_store(backend).policies
    async with backend.uow.begin() as tx:
        assert await repository.save(tx, "p1", ReviewPolicy(version=2, overlap=2))
        assert not await repository.save(tx, "p1", ReviewPolicy(version=2, overlap=5))
        assert not await repository.save(tx, "p1", ReviewPolicy(version=1, overlap=5))
        assert await repository.save(tx, "p1", ReviewPolicy(version=3, overlap=4))
    current = await repository.current("p1")
    assert current is not None and (current.version, current.overlap) == (3, 4)


async def test_a_rolled_back_save_leaves_nothing(backend: Backend) -> None:
    repository = review_store(backend).policies
    with pytest.raises(RuntimeError):
        async with backend.uow.begin() as tx:
            await repository.save(tx, "p1", ReviewPolicy(version=1))
            raise RuntimeError("abort")
    assert await repository.current("p1") is None
