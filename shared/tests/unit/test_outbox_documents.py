"""What a transaction writes to the outbox, without a database."""

import pytest

from labelmesh.core import mongo
from labelmesh.core.envelopes import decode, encode, new_envelope, user_actor
from labelmesh.core.mongo import outbox_documents, outbox_values
from labelmesh.v1.events_pb2 import Envelope, IngestRejected, ItemIngested


def ingested(item_id: str, text: str = "") -> Envelope:
    return new_envelope(
        ItemIngested(text=text or item_id),
        producer="ingest",
        actor=user_actor("a"),
        project_id="p",
        item_id=item_id,
    )


def test_a_transaction_writes_one_document_with_its_events_in_order() -> None:
    rejected = new_envelope(
        IngestRejected(field="items[1].text"),
        producer="ingest",
        actor=user_actor("a"),
        project_id="p",
    )
    events = [ingested("i1"), rejected, ingested("i2", "")]
    [document] = outbox_documents(events)
    assert (document["count"], document["published"]) == (3, False)
    assert [decode(value) for value in outbox_values(document)] == events


def test_events_too_large_for_one_document_are_split_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mongo, "OUTBOX_DOCUMENT_BYTES", 1_000)
    events = [ingested(f"i{n}", "x" * 300) for n in range(7)]
    documents = outbox_documents(events)
    assert [d["count"] for d in documents] == [2, 2, 2, 1]
    assert [d["_id"] for d in documents] == sorted(d["_id"] for d in documents)
    flat = [decode(value).item_id for d in documents for value in outbox_values(d)]
    assert flat == [f"i{n}" for n in range(7)]


def test_one_event_larger_than_the_budget_still_gets_a_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mongo, "OUTBOX_DOCUMENT_BYTES", 10)
    assert [d["count"] for d in outbox_documents([ingested("big", "y" * 50)])] == [1]


def test_a_document_in_the_old_one_event_shape_holds_its_one_event() -> None:
    old = ingested("old")
    document = {"_id": 1, "event_type": old.event_type, "value": encode(old), "key": "old"}
    assert [decode(value) for value in outbox_values(document)] == [old]
