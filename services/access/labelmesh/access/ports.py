"""The access service's repository port."""

from __future__ import annotations

from typing import Protocol

from labelmesh.access.records import MembershipRecord, StoredKey
from labelmesh.core.uow import Transaction


class AccessRepository(Protocol):
    """API keys by id, and memberships by organisation, project and subject."""

    async def add_key(self, tx: Transaction, key: StoredKey) -> None:
        """Store a new key; raises Conflict if its id is taken."""
        ...

    async def key(self, key_id: str, tx: Transaction | None = None) -> StoredKey | None: ...

    async def save_key(self, tx: Transaction, key: StoredKey) -> None:
        """Replace a stored key (to revoke it)."""
        ...

    async def keys(self, organization_id: str) -> list[StoredKey]:
        """The organisation's keys, newest first."""
        ...

    async def any_key(self) -> bool:
        """Whether any key was ever created."""
        ...

    async def membership(
        self, tx: Transaction, organization_id: str, project_id: str, subject: str
    ) -> MembershipRecord | None: ...

    async def save_membership(self, tx: Transaction, membership: MembershipRecord) -> None:
        """Store a membership; one with no roles is removed."""
        ...

    async def memberships_of(self, organization_id: str, subject: str) -> list[MembershipRecord]:
        """Every membership of `subject` in the organisation."""
        ...

    async def memberships_in(
        self, organization_id: str, project_id: str | None
    ) -> list[MembershipRecord]:
        """The organisation's memberships, by project then subject; with
        `project_id`, that project's and the organisation-wide ones."""
        ...
