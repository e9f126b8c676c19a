"""The audit service's responses, built once from records for gRPC and REST."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.timestamp_pb2 import Timestamp

from labelmesh.audit.domain import Verification
from labelmesh.audit.records import AuditEntry
from labelmesh.v1 import audit_service_pb2 as pb


def entry_message(entry: AuditEntry) -> pb.AuditEntry:
    """One entry as the API shows it (without the recorded bytes)."""
    occurred_at = Timestamp()
    occurred_at.FromDatetime(entry.occurred_at)
    return pb.AuditEntry(
        sequence=entry.sequence,
        event_id=entry.event_id,
        event_type=entry.event_type,
        producer=entry.producer,
        actor=entry.actor,
        occurred_at=occurred_at,
        previous_hash=entry.previous_hash,
        hash=entry.hash,
        trace_id=entry.trace_id,
    )


def trail_response(item_id: str, entries: Sequence[AuditEntry]) -> pb.GetItemTrailResponse:
    """An item's trail, in chain order."""
    return pb.GetItemTrailResponse(item_id=item_id, entries=[entry_message(e) for e in entries])


def verification_response(result: Verification) -> pb.VerifyItemTrailResponse:
    """The result of verifying a trail; first_bad_sequence is 0 when it is intact."""
    return pb.VerifyItemTrailResponse(
        intact=result.intact,
        entries_checked=result.checked,
        first_bad_sequence=result.first_bad_sequence or 0,
    )
