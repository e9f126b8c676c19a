import hashlib
import uuid

import pytest

from labelmesh.core.errors import InvalidField
from labelmesh.ingest.domain import (
    ITEM_ID_NAMESPACE,
    MAX_INLINE_TEXT_BYTES,
    Upload,
    item_id_for,
    prepare,
)
from labelmesh.testing.exports import png
from labelmesh.v1.events_pb2 import DataType

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
MAX = 1024


def field_of(upload: Upload) -> tuple[str, str]:
    with pytest.raises(InvalidField) as error:
        prepare(upload, "p", "items[3]", MAX)
    return error.value.field, error.value.reason


def test_an_item_id_follows_from_project_and_content() -> None:
    item = prepare(Upload(text="héllo"), "p1", "items[0]", MAX)
    assert item.data_type == DataType.DATA_TYPE_TEXT
    assert item.content == "héllo".encode()
    assert item.sha256 == hashlib.sha256("héllo".encode()).hexdigest()
    assert item.item_id == item_id_for("p1", item.sha256)
    assert prepare(Upload(text="héllo"), "p1", "items[9]", MAX).item_id == item.item_id
    assert prepare(Upload(text="héllo"), "p2", "items[0]", MAX).item_id != item.item_id
    assert prepare(Upload(text="hello"), "p1", "items[0]", MAX).item_id != item.item_id


def test_an_item_id_is_the_name_based_uuid_of_project_and_hash() -> None:
    for project, sha in [("p1", "ab" * 32), ("3f2c-é", "00" * 32), ("", "ff" * 32)]:
        assert item_id_for(project, sha) == str(uuid.uuid5(ITEM_ID_NAMESPACE, f"{project}/{sha}"))


def test_short_text_stays_in_the_record_and_files_go_to_the_object_store() -> None:
    short = prepare(Upload(text="a line"), "p1", "x", MAX)
    assert (short.inline, short.media_key) == (True, "")
    limit = MAX_INLINE_TEXT_BYTES + 1
    long = prepare(Upload(filename="book.txt", content=b"w" * limit), "p1", "x", limit)
    assert not long.inline and long.text == "w" * limit
    image = prepare(Upload(filename="a.png", content=PNG), "p1", "x", MAX)
    assert not image.inline
    key = image.media_key.split("/")
    assert (key[:4], key[-1]) == (["projects", "p1", "items", image.item_id], image.sha256)
    # Two uploads of one file name their media apart: a failed one cleans up only its own.
    again = prepare(Upload(filename="a.png", content=PNG), "p1", "x", MAX)
    assert again.item_id == image.item_id and again.media_key != image.media_key


def test_file_type_comes_from_content_type_or_file_name() -> None:
    assert prepare(Upload(filename="a.png", content=PNG), "p", "x", MAX).data_type == (
        DataType.DATA_TYPE_IMAGE
    )
    wav = prepare(
        Upload(filename="a.bin", content_type="audio/wav", content=b"RIFF"), "p", "x", MAX
    )
    assert wav.data_type == DataType.DATA_TYPE_AUDIO
    text = prepare(Upload(filename="notes.txt", content=b"plain words"), "p", "x", MAX)
    assert (text.data_type, text.text) == (DataType.DATA_TYPE_TEXT, "plain words")


@pytest.mark.parametrize(
    ("upload", "field", "reason"),
    [
        (Upload(), "items[3].text", "empty"),
        (Upload(filename="a.png"), "items[3].content", "empty"),
        (Upload(text="a", content=b"b"), "items[3].text", "not both"),
        (Upload(filename="blob", content=b"x"), "items[3].content_type", "unknown media type"),
        (Upload(filename="a.zip", content=b"PK"), "items[3].content_type", "unsupported"),
        (
            Upload(filename="a.png", content=b"GIF89a..."),
            "items[3].content",
            "not a valid image/png",
        ),
        (Upload(filename="a.txt", content=b"\xff\xfe\xfa"), "items[3].content", "not UTF-8"),
        (Upload(filename="a.txt", content=b"x" * (MAX + 1)), "items[3].content", "exceeds"),
        (
            Upload(text="a", metadata={str(i): "" for i in range(65)}),
            "items[3].metadata",
            "at most",
        ),
    ],
)
def test_bad_uploads_name_the_field_and_reason(upload: Upload, field: str, reason: str) -> None:
    got_field, got_reason = field_of(upload)
    assert got_field == field
    assert reason in got_reason


def test_an_image_records_its_size_from_its_header() -> None:
    image = prepare(Upload(filename="a.png", content=png(37, 21)), "p", "x", 1 << 20)
    assert (image.width, image.height) == (37, 21)


def test_an_image_whose_header_cannot_be_read_has_no_size_and_is_kept() -> None:
    image = prepare(Upload(filename="a.png", content=PNG), "p", "x", MAX)
    assert (image.data_type, image.width, image.height) == (DataType.DATA_TYPE_IMAGE, 0, 0)
