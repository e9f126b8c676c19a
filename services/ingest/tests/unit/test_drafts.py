"""What new items become: their records and their events."""

from datetime import UTC, datetime

from labelmesh.core.envelopes import decode, encode, user_actor
from labelmesh.core.logging import log_context
from labelmesh.ingest.domain import Upload, prepare
from labelmesh.ingest.drafts import ingested_events, stored
from labelmesh.testing.exports import png
from labelmesh.v1.events_pb2 import DataType

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8
AT = datetime(2026, 11, 30, tzinfo=UTC)


def test_each_event_is_a_whole_envelope_of_its_own_item() -> None:
    text = prepare(Upload(text="one", metadata={"source": "a"}), "p1", "items[0]", 1024)
    image = prepare(Upload(filename="b.png", content=PNG), "p1", "items[1]", 1024)
    with log_context(trace_id="ab" * 16):
        events = ingested_events("p1", [text, image], user_actor("dana"), "ingest")
    assert events[text.sha256].event_id != events[image.sha256].event_id
    for item in (text, image):
        event = decode(encode(events[item.sha256]))
        assert (event.event_type, event.producer, event.project_id, event.item_id) == (
            "labelmesh.v1.ItemIngested",
            "ingest",
            "p1",
            item.item_id,
        )
        assert (event.actor.id, event.trace_id) == ("dana", "ab" * 16)
        assert event.occurred_at.seconds > 0
        ingested = event.item_ingested
        assert (ingested.content_sha256, ingested.size_bytes, ingested.media_key) == (
            item.sha256,
            len(item.content),
            item.media_key,
        )
    assert events[text.sha256].item_ingested.text == "one"
    assert dict(events[text.sha256].item_ingested.metadata) == {"source": "a"}
    assert events[image.sha256].item_ingested.data_type == DataType.DATA_TYPE_IMAGE


def test_short_text_is_kept_in_the_record_and_files_are_not() -> None:
    text = stored(prepare(Upload(text="one"), "p1", "items[0]", 1024), AT)
    image = stored(prepare(Upload(filename="b.png", content=PNG), "p1", "items[1]", 1024), AT)
    assert (text.text, text.media_key, text.created_at) == ("one", "", AT)
    assert image.text == "" and image.media_key.startswith("projects/p1/items/")


def test_an_images_size_goes_into_its_event_and_its_record() -> None:
    image = prepare(Upload(filename="b.png", content=png(30, 20)), "p1", "items[0]", 1 << 20)
    event = ingested_events("p1", [image], user_actor("dana"), "ingest")[image.sha256]
    assert (event.item_ingested.width, event.item_ingested.height) == (30, 20)
    assert (stored(image, AT).width, stored(image, AT).height) == (30, 20)


def test_the_source_and_imported_labels_go_into_the_event_and_the_source_into_the_record() -> None:
    upload = Upload(
        text="a cat",
        source="label-studio",
        source_uri="https://ls.example/tasks/9",
        annotations=[{"labels": [{"classification": {"label": "cat"}}], "annotator": "al"}],
        predictions=[{"labels": [{"classification": {"label": "cat"}}], "score": 0.9}],
    )
    item = prepare(upload, "p1", "items[0]", 1024)
    ingested = ingested_events("p1", [item], user_actor("dana"), "ingest")[
        item.sha256
    ].item_ingested
    assert (ingested.source, ingested.source_uri) == ("label-studio", "https://ls.example/tasks/9")
    assert [a.annotator for a in ingested.imported_annotations] == ["al"]
    assert [p.score for p in ingested.imported_predictions] == [0.9]
    record = stored(item, AT)
    assert (record.source, record.source_uri) == ("label-studio", "https://ls.example/tasks/9")
    assert prepare(Upload(text="x"), "p1", "items[0]", 1024, default_source="url").source == "url"
