import pytest

from labelmesh.core.envelopes import (
    UndecodableEvent,
    decode,
    encode,
    headers_for,
    new_envelope,
    payload_of,
    trace_id_from_traceparent,
    user_actor,
)
from labelmesh.core.logging import log_context
from labelmesh.v1.events_pb2 import Envelope, ItemIngested, ProjectSpec


def test_round_trip_keeps_payload_and_identity() -> None:
    envelope = new_envelope(
        ItemIngested(text="hello", media_key="k"),
        producer="ingest",
        actor=user_actor("alice"),
        project_id="p1",
        item_id="i1",
    )
    decoded = decode(encode(envelope))
    assert decoded == envelope
    assert decoded.event_type == "labelmesh.v1.ItemIngested"
    assert payload_of(decoded).text == "hello"  # type: ignore[attr-defined]
    assert len(decoded.trace_id) == 32
    assert decoded.occurred_at.seconds > 0


def test_new_envelope_refuses_a_message_that_is_not_a_payload() -> None:
    with pytest.raises(ValueError, match="ProjectSpec is not an envelope payload"):
        new_envelope(ProjectSpec(), producer="x", actor=user_actor("a"), project_id="p")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty record value"),
        (b"\xff\xff\xff", "not a protobuf Envelope"),
        (Envelope(event_type="labelmesh.v1.ItemIngested").SerializeToString(), "no event_id"),
        (Envelope(event_id="e").SerializeToString(), "no payload"),
    ],
)
def test_decode_names_what_is_wrong(data: bytes, reason: str) -> None:
    with pytest.raises(UndecodableEvent, match=reason):
        decode(data)


def test_decode_refuses_a_type_that_does_not_match_the_payload() -> None:
    envelope = new_envelope(
        ItemIngested(), producer="x", actor=user_actor("a"), project_id="p", item_id="i"
    )
    envelope.event_type = "labelmesh.v1.ItemCompleted"
    with pytest.raises(UndecodableEvent, match="does not match payload"):
        decode(encode(envelope))


def test_headers_follow_cloudevents_binary_mode() -> None:
    envelope = new_envelope(
        ItemIngested(), producer="ingest", actor=user_actor("a"), project_id="p", item_id="i"
    )
    headers = dict(headers_for(envelope))
    assert headers["ce_type"] == b"labelmesh.v1.ItemIngested"
    assert headers["ce_id"] == envelope.event_id.encode()
    assert headers["content-type"] == b"application/protobuf"
    version, trace_id, span_id, flags = headers["traceparent"].decode().split("-")
    assert (version, trace_id, flags) == ("00", envelope.trace_id, "01")
    assert len(span_id) == 16


def test_envelopes_inherit_the_trace_of_the_work_in_progress() -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with log_context(trace_id=trace_id):
        inside = new_envelope(ItemIngested(), producer="x", actor=user_actor("a"), project_id="p")
    outside = new_envelope(ItemIngested(), producer="x", actor=user_actor("a"), project_id="p")
    assert inside.trace_id == trace_id
    assert outside.trace_id not in ("", trace_id)


def test_traceparent_parsing() -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    assert trace_id_from_traceparent(f"00-{trace_id}-00f067aa0ba902b7-01") == trace_id
    for bad in (
        None,
        "",
        "garbage",
        f"01-{trace_id}-00f067aa0ba902b7-01",
        "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
    ):
        fresh = trace_id_from_traceparent(bad)
        assert len(fresh) == 32 and fresh != trace_id and fresh != "0" * 32
