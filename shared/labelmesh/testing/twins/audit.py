"""In-memory twin of the audit service's repository port."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace

from labelmesh.audit.domain import new_heads
from labelmesh.audit.records import AuditEntry, ChainHead
from labelmesh.core.errors import Conflict
from labelmesh.core.uow import Transaction
from labelmesh.testing.memory import MemoryState

ENTRIES = "audit_entries"
HEADS = "chain_heads"


class InMemoryAuditRepository:
    """Entries by event id and heads by chain, in tables the unit of work rolls back."""

    def __init__(self, state: MemoryState) -> None:
        self.entries: dict[str, AuditEntry] = state.table(ENTRIES)
        self.chain_heads: dict[str, ChainHead] = state.table(HEADS)

    async def recorded(self, tx: Transaction, event_ids: Collection[str]) -> set[str]:
        return {i for i in event_ids if i in self.entries}

    async def heads(self, tx: Transaction, chains: Collection[str]) -> dict[str, ChainHead]:
        return {c: self.chain_heads[c] for c in chains if c in self.chain_heads}

    async def append(
        self, tx: Transaction, read: Mapping[str, ChainHead], entries: Sequence[AuditEntry]
    ) -> None:
        taken = {(e.chain, e.sequence) for e in self.entries.values()}
        for entry in entries:
            if entry.event_id in self.entries or (entry.chain, entry.sequence) in taken:
                raise Conflict(f"audit entry {entry.event_id!r} collides with a stored one")
            # MongoDB keeps times to the millisecond.
            stored = replace(
                entry,
                occurred_at=entry.occurred_at.replace(
                    microsecond=entry.occurred_at.microsecond // 1000 * 1000
                ),
            )
            self.entries[entry.event_id] = stored
            taken.add((entry.chain, entry.sequence))
        for key, head in new_heads(entries).items():
            stored_head = self.chain_heads.get(key)
            if key in read and (stored_head is None or stored_head.sequence != read[key].sequence):
                raise Conflict(f"the head of chain {key!r} moved since it was read")
            self.chain_heads[key] = head

    async def trail(self, chain: str) -> list[AuditEntry]:
        return sorted(
            (e for e in self.entries.values() if e.chain == chain), key=lambda e: e.sequence
        )
