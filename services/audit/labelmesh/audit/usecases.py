"""What the audit service does: record every event and answer for it."""

from __future__ import annotations

from collections.abc import Sequence

from labelmesh.audit.adapters.repository import AuditRepository
from labelmesh.audit.domain import Verification, verify
from labelmesh.audit.metrics import AuditMetrics
from labelmesh.core.errors import NotFound
from labelmesh.core.mongo import Document, UnitOfWork
from labelmesh.v1.events_pb2 import Envelope

SERVICE = "audit"


class Audit:
    def __init__(self, repository: AuditRepository, uow: UnitOfWork, metrics: AuditMetrics) -> None:
        self.repository = repository
        self.uow = uow
        self.metrics = metrics

    async def record(self, envelopes: Sequence[Envelope]) -> None:
        """Append events to their items' chains, in one transaction; replays are skipped."""
        async with self.uow.begin() as tx:
            appended = await self.repository.append(tx, envelopes)
        for envelope in appended:
            self.metrics.entries.labels(envelope.producer or "unknown").inc()

    async def item_trail(self, item_id: str) -> list[Document]:
        """The item's chain in order; NotFound if nothing was recorded for it."""
        entries = await self.repository.chain(item_id)
        if not entries:
            raise NotFound("audit trail of item", item_id)
        return entries

    async def verify_item(self, item_id: str) -> Verification:
        result = verify(self.repository.links(await self.item_trail(item_id)))
        self.metrics.verifications.labels("intact" if result.intact else "broken").inc()
        return result
