"""The audit service's repository port."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from labelmesh.audit.records import AuditEntry, ChainHead
from labelmesh.core.uow import Transaction


class AuditRepository(Protocol):
    """Append-only entries of the hash chains and the head of each chain."""

    async def recorded(self, tx: Transaction, event_ids: Collection[str]) -> set[str]:
        """Those of `event_ids` that already have an entry."""
        ...

    async def heads(self, tx: Transaction, chains: Collection[str]) -> dict[str, ChainHead]:
        """The current head of each of `chains` that has one."""
        ...

    async def append(
        self, tx: Transaction, read: Mapping[str, ChainHead], entries: Sequence[AuditEntry]
    ) -> None:
        """Insert `entries` (in chain order) and move each chain's head from its `read` value.

        Raises Conflict if an entry's event id or (chain, sequence) is already
        stored, or if a head moved since it was read.
        """
        ...

    async def trail(self, chain: str) -> list[AuditEntry]:
        """A chain's entries in sequence order; empty if nothing was recorded for it."""
        ...
