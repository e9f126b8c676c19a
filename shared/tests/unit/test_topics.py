import pytest

from labelmesh.core.topics import Topics
from labelmesh.v1.events_pb2 import Envelope


def test_every_envelope_payload_has_a_topic() -> None:
    topics = Topics("lm")
    for field in Envelope.DESCRIPTOR.oneofs_by_name["payload"].fields:
        assert topics.for_event(field.message_type.full_name).startswith("lm.")


def test_events_of_one_family_share_a_topic() -> None:
    topics = Topics("lm")
    assert topics.for_event("labelmesh.v1.ItemIngested") == "lm.items"
    assert topics.for_event("labelmesh.v1.IngestRejected") == "lm.items"
    assert topics.for_event("labelmesh.v1.ReviewDecided") == "lm.reviews"
    assert topics.dead_letter == "lm.dead-letter"


def test_unknown_event_type_is_refused() -> None:
    with pytest.raises(ValueError, match="no topic family"):
        Topics("lm").for_event("labelmesh.v1.Nope")
