"""Building, encoding and decoding the `Envelope` every topic carries."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, datetime

from google.protobuf.message import DecodeError, Message

from labelmesh.core.logging import current_trace_id
from labelmesh.v1.events_pb2 import Actor, Envelope

SCHEMA_VERSION = 1
CONTENT_TYPE = b"application/protobuf"

# Envelope oneof field of each payload, by the payload's full message name.
_PAYLOAD_FIELD = {
    field.message_type.full_name: field.name
    for field in Envelope.DESCRIPTOR.oneofs_by_name["payload"].fields
}


class UndecodableEvent(ValueError):
    """Bytes that are not a valid LabelMesh envelope."""


def new_trace_id() -> str:
    return secrets.token_hex(16)


def trace_id_from_traceparent(header: str | None) -> str:
    """The trace id of a W3C `traceparent` header, or a new one if it is absent or malformed."""
    # version "00", 32 hex trace id (not all zeros), 16 hex parent id, 2 hex flags
    match = re.fullmatch(r"00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}", (header or "").strip())
    if match and match.group(1) != "0" * 32:
        return match.group(1)
    return new_trace_id()


def new_envelope(
    payload: Message,
    *,
    producer: str,
    actor: Actor,
    project_id: str,
    item_id: str = "",
    trace_id: str = "",
) -> Envelope:
    """Wrap a payload in a fresh envelope with a new event id and the current time."""
    type_name = payload.DESCRIPTOR.full_name
    field = _PAYLOAD_FIELD.get(type_name)
    if field is None:
        raise ValueError(f"{type_name} is not an envelope payload")
    envelope = Envelope(
        event_id=str(uuid.uuid4()),
        event_type=type_name,
        schema_version=SCHEMA_VERSION,
        producer=producer,
        actor=actor,
        project_id=project_id,
        item_id=item_id,
        trace_id=trace_id or current_trace_id() or new_trace_id(),
    )
    envelope.occurred_at.FromDatetime(datetime.now(UTC))
    getattr(envelope, field).CopyFrom(payload)
    return envelope


def payload_of(envelope: Envelope) -> Message:
    """The typed payload inside an envelope."""
    field = envelope.WhichOneof("payload")
    if field is None:
        raise UndecodableEvent("envelope has no payload")
    message: Message = getattr(envelope, field)
    return message


def encode(envelope: Envelope) -> bytes:
    data: bytes = envelope.SerializeToString(deterministic=True)
    return data


def decode(data: bytes | None) -> Envelope:
    """Parse and check an envelope; raises UndecodableEvent with the reason."""
    if not data:
        raise UndecodableEvent("empty record value")
    try:
        envelope: Envelope = Envelope.FromString(data)
    except DecodeError as exc:
        raise UndecodableEvent(f"not a protobuf Envelope: {exc}") from None
    if not envelope.event_id:
        raise UndecodableEvent("envelope has no event_id")
    payload = payload_of(envelope)
    if payload.DESCRIPTOR.full_name != envelope.event_type:
        raise UndecodableEvent(
            f"event_type {envelope.event_type!r} does not match payload "
            f"{payload.DESCRIPTOR.full_name!r}"
        )
    return envelope


def headers_for(envelope: Envelope) -> list[tuple[str, bytes]]:
    """CloudEvents Kafka binary-mode headers, plus a W3C traceparent."""
    span_id = secrets.token_hex(8)
    return [
        ("ce_specversion", b"1.0"),
        ("ce_type", envelope.event_type.encode()),
        ("ce_id", envelope.event_id.encode()),
        ("ce_source", f"labelmesh/{envelope.producer}".encode()),
        ("content-type", CONTENT_TYPE),
        ("traceparent", f"00-{envelope.trace_id}-{span_id}-01".encode()),
    ]


def service_actor(service: str) -> Actor:
    return Actor(kind=Actor.KIND_SERVICE, id=service)


def user_actor(user: str) -> Actor:
    return Actor(kind=Actor.KIND_USER, id=user)


# Who a use case acts for: the authenticated actor the secured layer passes (a
# service account acts as its API key), or a person named by user id.
Acting = Actor | str


def acting_actor(who: Acting) -> Actor:
    return who if isinstance(who, Actor) else user_actor(who)


def model_actor(model_id: str, version: str) -> Actor:
    return Actor(kind=Actor.KIND_MODEL, id=f"{model_id}@{version}")
