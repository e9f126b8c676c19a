"""The access repository contract, against the in-memory twin and SecantusDB."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.access.adapters.repository import MongoAccessRepository
from labelmesh.access.ports import AccessRepository
from labelmesh.access.records import MembershipRecord, StoredKey
from labelmesh.core.errors import Conflict
from labelmesh.core.mongo import Document
from labelmesh.testing.backends import Backend
from labelmesh.testing.memory import MemoryState
from labelmesh.testing.twins.access import InMemoryAccessRepository
from labelmesh.v1.events_pb2 import Role

AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


async def repository_of(backend: Backend) -> AccessRepository:
    twin: Callable[[MemoryState], AccessRepository] = InMemoryAccessRepository
    mongo: Callable[[AsyncDatabase[Document]], AccessRepository] = MongoAccessRepository
    repository = backend.pick(twin, mongo)
    if isinstance(repository, MongoAccessRepository):
        await repository.ensure_indexes()
    return repository


def key(key_id: str, organization: str = "acme", minutes: int = 0) -> StoredKey:
    return StoredKey(
        key_id=key_id,
        organization_id=organization,
        subject="ana",
        name="laptop",
        project_ids=("p1",),
        expires_at=AT + timedelta(days=30),
        created_at=AT + timedelta(minutes=minutes),
        created_by="KIND_USER:admin",
        revoked_at=None,
        service_account=False,
        secret_hash="$argon2id$...",
    )


async def test_keys_round_trip_and_an_id_is_taken_once(backend: Backend) -> None:
    repository = await repository_of(backend)
    assert not await repository.any_key()
    async with backend.uow.begin() as tx:
        await repository.add_key(tx, key("k1"))
        await repository.add_key(tx, key("k2", minutes=5))
        await repository.add_key(tx, key("k3", organization="other"))
    assert await repository.any_key()
    assert await repository.key("k1") == key("k1")
    assert await repository.key("nope") is None
    assert [k.key_id for k in await repository.keys("acme")] == ["k2", "k1"]
    with pytest.raises(Conflict):
        async with backend.uow.begin() as tx:
            await repository.add_key(tx, key("k1", organization="other"))

    revoked = replace(key("k1"), revoked_at=AT + timedelta(hours=1))
    async with backend.uow.begin() as tx:
        await repository.save_key(tx, revoked)
    assert await repository.key("k1") == revoked


async def test_memberships_are_set_replaced_removed_and_listed(backend: Backend) -> None:
    repository = await repository_of(backend)
    wide = MembershipRecord("acme", "", "ana", (Role.ROLE_REVIEWER,))
    in_p1 = MembershipRecord("acme", "p1", "ana", (Role.ROLE_REVIEWER,), ("qa-berlin",))
    bob = MembershipRecord("acme", "p2", "bob", (Role.ROLE_MANAGER,))
    elsewhere = MembershipRecord("other", "p1", "ana", (Role.ROLE_ADMIN,))
    async with backend.uow.begin() as tx:
        for membership in (wide, in_p1, bob, elsewhere):
            await repository.save_membership(tx, membership)
    assert sorted(await repository.memberships_of("acme", "ana"), key=str) == sorted(
        [wide, in_p1], key=str
    )
    assert await repository.memberships_in("acme", "p1") == [wide, in_p1]
    assert await repository.memberships_in("acme", None) == [wide, in_p1, bob]

    promoted = replace(in_p1, roles=(Role.ROLE_ANNOTATOR, Role.ROLE_REVIEWER))
    async with backend.uow.begin() as tx:
        await repository.save_membership(tx, promoted)
        await repository.save_membership(tx, replace(bob, roles=()))
        assert await repository.membership(tx, "acme", "p1", "ana") == promoted
        assert await repository.membership(tx, "acme", "p2", "bob") is None
    assert await repository.memberships_in("acme", None) == [wide, promoted]
