"""What the audit service does: record every event and answer for it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from labelmesh.audit.domain import Verification, chain_key, extend_chains, link_of, verify
from labelmesh.audit.metrics import AuditMetrics
from labelmesh.audit.ports import AuditRepository
from labelmesh.audit.records import AuditEntry
from labelmesh.core.errors import NotFound
from labelmesh.core.uow import Transaction
from labelmesh.v1.events_pb2 import Envelope

SERVICE = "audit"


@dataclass(eq=False)
class Audit:
    repository: AuditRepository
    metrics: AuditMetrics

    async def record(self, tx: Transaction, envelopes: Sequence[Envelope]) -> list[AuditEntry]:
        """Append events to their chains in order, inside `tx`; returns the new entries.

        An event that already has an entry is skipped: the entry's own id is the
        event id, so a replay appends nothing even where no claim of it exists
        (events recorded before the dispatcher claimed ids).
        """
        seen = await self.repository.recorded(tx, {e.event_id for e in envelopes})
        fresh = []
        for envelope in envelopes:
            if envelope.event_id not in seen:
                seen.add(envelope.event_id)
                fresh.append(envelope)
        if not fresh:
            return []
        heads = await self.repository.heads(tx, {chain_key(e) for e in fresh})
        entries = extend_chains(heads, fresh)
        await self.repository.append(tx, heads, entries)
        return entries

    def count_recorded(self, entries: Sequence[AuditEntry]) -> None:
        """Count committed entries, by producer."""
        for entry in entries:
            self.metrics.entries.labels(entry.producer or "unknown").inc()

    async def item_trail(self, item_id: str) -> list[AuditEntry]:
        """The item's chain in order; NotFound if nothing was recorded for it."""
        entries = await self.repository.trail(item_id)
        if not entries:
            raise NotFound("audit trail of item", item_id)
        return entries

    async def verify_item(self, item_id: str) -> Verification:
        """Recompute the item's chain; NotFound if nothing was recorded for it."""
        result = verify([link_of(e) for e in await self.item_trail(item_id)])
        self.metrics.verifications.labels("intact" if result.intact else "broken").inc()
        return result
