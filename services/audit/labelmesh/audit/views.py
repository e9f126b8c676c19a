"""The audit service's responses, built once from records for gRPC and REST,
and its requests' filters, read once from the proto for both."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from labelmesh.audit.domain import History, LabelDiff, ProjectVerification, Verification
from labelmesh.audit.records import AuditEntry, AuditQuery
from labelmesh.core.errors import InvalidField
from labelmesh.v1 import audit_service_pb2 as pb
from labelmesh.v1 import events_pb2

EVENT_PREFIX = "labelmesh.v1."
# The most event types one query may name.
MAX_EVENT_TYPES = 20
# The columns of a CSV export, in order.
CSV_COLUMNS = [
    "occurred_at",
    "event_id",
    "event_type",
    "project_id",
    "item_id",
    "actor",
    "producer",
    "sequence",
    "previous_hash",
    "hash",
    "trace_id",
]


def _timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def entry_message(entry: AuditEntry) -> pb.AuditEntry:
    """One entry as the API shows it (without the recorded bytes)."""
    return pb.AuditEntry(
        sequence=entry.sequence,
        event_id=entry.event_id,
        event_type=entry.event_type,
        producer=entry.producer,
        actor=entry.actor,
        occurred_at=_timestamp(entry.occurred_at),
        previous_hash=entry.previous_hash,
        hash=entry.hash,
        trace_id=entry.trace_id,
        project_id=entry.project_id,
        item_id=entry.item_id,
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


def _known_event_types() -> set[str]:
    fields = events_pb2.Envelope.DESCRIPTOR.oneofs_by_name["payload"].fields
    return {EVENT_PREFIX + f.message_type.name for f in fields}


KNOWN_EVENT_TYPES = frozenset(_known_event_types())


def event_type_name(name: str) -> str:
    """A full event type name; "AnnotationSubmitted" means "labelmesh.v1.AnnotationSubmitted"."""
    full = name if name.startswith(EVENT_PREFIX) else EVENT_PREFIX + name
    if full not in KNOWN_EVENT_TYPES:
        raise InvalidField("event_types", f"{name!r} is not an event type")
    return full


def _moment_of(audit_filter: pb.AuditFilter, field: str) -> datetime | None:
    if not audit_filter.HasField(field):
        return None
    try:
        moment: datetime = getattr(audit_filter, field).ToDatetime(tzinfo=UTC)
    except ValueError as exc:
        raise InvalidField(field, str(exc)) from None
    return moment


def query_of(audit_filter: pb.AuditFilter) -> AuditQuery:
    """The query a request's filter asks; a bad value raises InvalidField naming it."""
    if len(audit_filter.event_types) > MAX_EVENT_TYPES:
        raise InvalidField("event_types", f"at most {MAX_EVENT_TYPES} event types")
    start = _moment_of(audit_filter, "occurred_from")
    stop = _moment_of(audit_filter, "occurred_to")
    query = AuditQuery(
        project_id=audit_filter.project_id,
        actor=audit_filter.actor,
        event_types=tuple(event_type_name(t) for t in audit_filter.event_types),
        item_id=audit_filter.item_id,
        occurred_from=start,
        occurred_to=stop,
    )
    if query.occurred_from and query.occurred_to and query.occurred_to <= query.occurred_from:
        raise InvalidField("occurred_to", "must be after occurred_from")
    return query


def page_response(entries: Sequence[AuditEntry], next_token: str) -> pb.QueryAuditLogResponse:
    """One page of a query."""
    return pb.QueryAuditLogResponse(
        entries=[entry_message(e) for e in entries], next_page_token=next_token
    )


def timestamp_json(moment: datetime) -> str:
    """A time as proto-JSON writes a Timestamp: UTC, "Z", 0, 3 or 6 fraction digits."""
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    micros = utc.microsecond
    if micros % 1000 == 0:
        fraction = f".{micros // 1000:03d}" if micros else ""
    else:
        fraction = f".{micros:06d}"
    return f"{text}{fraction}Z"


def entry_json(entry: AuditEntry) -> dict[str, str]:
    """An entry's proto-JSON (what message_to_json gives for entry_message), built
    directly: an export writes one per entry, and json_format costs most of it."""
    return {
        "sequence": str(entry.sequence),
        "event_id": entry.event_id,
        "event_type": entry.event_type,
        "producer": entry.producer,
        "actor": entry.actor,
        "occurred_at": timestamp_json(entry.occurred_at),
        "previous_hash": entry.previous_hash,
        "hash": entry.hash,
        "trace_id": entry.trace_id,
        "project_id": entry.project_id,
        "item_id": entry.item_id,
    }


def entry_json_line(entry: AuditEntry) -> str:
    """One entry as a line of a JSONL export: its proto-JSON."""
    return json.dumps(entry_json(entry), separators=(",", ":")) + "\n"


def csv_header() -> str:
    """The header row of a CSV export."""
    return csv_rows([])


def csv_rows(entries: Sequence[AuditEntry]) -> str:
    """CSV rows of entries (the header alone when there are none)."""
    out = io.StringIO()
    writer = csv.writer(out)
    if not entries:
        writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow(
            [
                e.occurred_at.isoformat(),
                e.event_id,
                e.event_type,
                e.project_id,
                e.item_id,
                e.actor,
                e.producer,
                e.sequence,
                e.previous_hash,
                e.hash,
                e.trace_id,
            ]
        )
    return out.getvalue()


def _diff_message(diff: LabelDiff) -> pb.LabelDiff:
    return pb.LabelDiff(
        added=diff.added,
        removed=diff.removed,
        changed=[pb.LabelChange(before=b, after=a) for b, a in diff.changed],
    )


def history_response(item_id: str, histories: Sequence[History]) -> pb.GetAnnotationHistoryResponse:
    """An item's label versions, per annotation slot."""
    return pb.GetAnnotationHistoryResponse(
        item_id=item_id,
        annotations=[
            pb.AnnotationHistory(
                key=h.key,
                versions=[
                    pb.AnnotationVersion(
                        version=v.version,
                        actor=v.entry.actor,
                        occurred_at=_timestamp(v.entry.occurred_at),
                        event_type=v.entry.event_type,
                        event_id=v.entry.event_id,
                        labels=v.labels,
                        diff=_diff_message(v.diff),
                    )
                    for v in h.versions
                ],
            )
            for h in histories
        ],
    )


def project_verification_response(result: ProjectVerification) -> pb.VerifyProjectResponse:
    """What verifying a project found."""
    return pb.VerifyProjectResponse(
        intact=result.intact,
        chains_checked=result.chains,
        entries_checked=result.entries,
        checkpoints_checked=result.checkpoints,
        problems=[
            pb.IntegrityProblem(
                kind=pb.ProblemKind.Value(f"PROBLEM_KIND_{p.kind.upper()}"),
                chain=p.chain,
                sequence=max(p.sequence, 0),
                detail=p.detail,
            )
            for p in result.problems
        ],
        checkpoint_hash=result.checkpoint_hash,
    )
