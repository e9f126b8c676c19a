"""The member repository (review's copy of the memberships), on the twin and on
SecantusDB."""

from __future__ import annotations

import pytest

from labelmesh.review.records import MemberRecord
from labelmesh.testing.backends import Backend

from .builders import at, review_store


def member(subject: str, project_id: str, *roles: str, minutes: float = 0) -> MemberRecord:
    return MemberRecord("acme", project_id, subject, roles, ("qa",) if roles else (), at(minutes))


async def test_memberships_are_found_by_project_and_by_subject(backend: Backend) -> None:
    repository = review_store(backend).members
    wide, in_p1 = member("bob", "", "reviewer"), member("ana", "p1", "expert")
    others = [
        member("cyd", "p2", "expert"),
        MemberRecord("zeta", "p1", "ana", ("admin",), (), at(0)),
    ]
    async with backend.uow.begin() as tx:
        for record in (in_p1, wide, *others):
            assert await repository.apply(tx, record)
    assert await repository.in_project("acme", "p1") == [wide, in_p1]
    assert await repository.in_project("acme", "") == [wide]
    assert await repository.of_subject("acme", "p1", "ana") == [in_p1]
    assert await repository.of_subject("acme", "p1", "bob") == [wide]
    assert await repository.of_subject("acme", "p3", "ana") == []


async def test_only_a_later_state_replaces_a_membership(backend: Backend) -> None:
    repository = review_store(backend).members
    removed = member("ana", "p1", minutes=5)
    async with backend.uow.begin() as tx:
        assert await repository.apply(tx, member("ana", "p1", "expert", minutes=2))
        assert await repository.apply(tx, removed)
        assert not await repository.apply(tx, member("ana", "p1", "reviewer", minutes=4))
        assert await repository.apply(tx, member("ana", "p1", "annotator", minutes=5))
    [now] = await repository.in_project("acme", "p1")
    assert now.roles == ("annotator",)


async def test_a_rolled_back_apply_leaves_nothing(backend: Backend) -> None:
    repository = review_store(backend).members
    with pytest.raises(RuntimeError):
        async with backend.uow.begin() as tx:
            await repository.apply(tx, member("ana", "p1", "expert"))
            raise RuntimeError("abort")
    assert await repository.in_project("acme", "p1") == []
