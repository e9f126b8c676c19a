"""The audit service's events: every payload of every family is recorded, a
whole fetch in one bulk append (the audit log's hot path)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from google.protobuf.message import Message

from labelmesh.audit.records import AuditEntry
from labelmesh.audit.usecases import Audit
from labelmesh.core.dispatch import EventTable, Route, on
from labelmesh.core.topics import FAMILY_OF_EVENT
from labelmesh.core.uow import Transaction
from labelmesh.v1 import events_pb2
from labelmesh.v1.events_pb2 import Envelope


class AuditFetch:
    """Gathers a fetch's envelopes and appends, in `finish`, those not recorded yet."""

    def __init__(self, audit: Audit) -> None:
        self.audit = audit
        self.envelopes: list[Envelope] = []
        self.appended: list[AuditEntry] = []

    async def gather(self, tx: Transaction, envelope: Envelope, event: Message) -> None:
        self.envelopes.append(envelope)

    async def finish(self, tx: Transaction) -> None:
        self.appended = await self.audit.record(tx, self.envelopes)

    def committed(self) -> None:
        self.audit.count_recorded(self.appended)


def payload_types() -> list[type[Message]]:
    """The message class of every envelope payload that has a topic family."""
    fields = Envelope.DESCRIPTOR.oneofs_by_name["payload"].fields
    names = [f.message_type.name for f in fields if f.message_type.name in FAMILY_OF_EVENT]
    return [getattr(events_pb2, name) for name in names]


def _routes() -> list[Route[AuditFetch]]:
    return [on(payload, AuditFetch.gather) for payload in payload_types()]


TABLE = EventTable[AuditFetch](routes=_routes())


def fetch_starter(audit: Audit) -> Callable[[Sequence[Envelope]], Awaitable[AuditFetch]]:
    """The dispatcher's `start`: a fresh fetch that records into `audit`."""

    async def start(_: Sequence[Envelope]) -> AuditFetch:
        return AuditFetch(audit)

    return start
