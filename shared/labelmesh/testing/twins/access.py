"""In-memory twin of the access service's repository port."""

from __future__ import annotations

from labelmesh.access.records import MembershipRecord, StoredKey
from labelmesh.core.errors import Conflict
from labelmesh.core.uow import Transaction
from labelmesh.testing.memory import MemoryState


class InMemoryAccessRepository:
    def __init__(self, state: MemoryState) -> None:
        self._keys: dict[str, StoredKey] = state.table("api_keys")
        self._memberships: dict[str, MembershipRecord] = state.table("memberships")

    async def add_key(self, tx: Transaction, key: StoredKey) -> None:
        if key.key_id in self._keys:
            raise Conflict(f"API key id {key.key_id!r} is taken")
        self._keys[key.key_id] = key

    async def key(self, key_id: str, tx: Transaction | None = None) -> StoredKey | None:
        return self._keys.get(key_id)

    async def save_key(self, tx: Transaction, key: StoredKey) -> None:
        self._keys[key.key_id] = key

    async def keys(self, organization_id: str) -> list[StoredKey]:
        found = [k for k in self._keys.values() if k.organization_id == organization_id]
        return sorted(found, key=lambda k: k.created_at, reverse=True)

    async def any_key(self) -> bool:
        return bool(self._keys)

    async def membership(
        self, tx: Transaction, organization_id: str, project_id: str, subject: str
    ) -> MembershipRecord | None:
        return self._memberships.get(
            MembershipRecord(organization_id, project_id, subject, ()).membership_id
        )

    async def save_membership(self, tx: Transaction, membership: MembershipRecord) -> None:
        if membership.roles:
            self._memberships[membership.membership_id] = membership
        else:
            self._memberships.pop(membership.membership_id, None)

    async def memberships_of(self, organization_id: str, subject: str) -> list[MembershipRecord]:
        return [
            m
            for m in self._memberships.values()
            if m.organization_id == organization_id and m.subject == subject
        ]

    async def memberships_in(
        self, organization_id: str, project_id: str | None
    ) -> list[MembershipRecord]:
        found = [
            m
            for m in self._memberships.values()
            if m.organization_id == organization_id
            and (project_id is None or m.project_id in ("", project_id))
        ]
        return sorted(found, key=lambda m: (m.project_id, m.subject))
