"""Exports of the audit log are recorded in it: who took which entries, in
which format, and whether the export ran to its end.

An export is recorded once it ends, however it ends: completed, failed, or
abandoned by its client. The record is a side event, so that a client going
away cannot cancel it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sized
from typing import TypeVar

from labelmesh.audit.records import AuditQuery
from labelmesh.audit.usecases import SERVICE
from labelmesh.core.envelopes import new_envelope
from labelmesh.v1.events_pb2 import Actor, AuditLogExported, Envelope

Batch = TypeVar("Batch", bound=Sized)


def export_event(
    actor: Actor, query: AuditQuery, project_id: str, format: str, entries: int, complete: bool
) -> Envelope:
    """The AuditLogExported event; it joins the chain of the project exported."""
    exported = AuditLogExported(
        format=format,
        actor=query.actor,
        event_types=query.event_types,
        item_id=query.item_id,
        entries=entries,
        complete=complete,
    )
    if query.occurred_from is not None:
        exported.occurred_from.FromDatetime(query.occurred_from)
    if query.occurred_to is not None:
        exported.occurred_to.FromDatetime(query.occurred_to)
    return new_envelope(exported, producer=SERVICE, actor=actor, project_id=project_id)


async def counted(
    batches: AsyncIterator[Batch], ended: Callable[[int, bool], None]
) -> AsyncIterator[Batch]:
    """`batches`, passed on; `ended(entries sent, whether all were)` once they stop.

    A batch counts as sent once the consumer asks for the next one."""
    sent, complete = 0, False
    try:
        async for batch in batches:
            yield batch
            sent += len(batch)
        complete = True
    finally:
        ended(sent, complete)
