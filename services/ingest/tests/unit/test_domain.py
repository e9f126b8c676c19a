import hashlib

import pytest

from labelmesh.core.errors import InvalidField
from labelmesh.ingest.domain import Upload, prepare
from labelmesh.v1.events_pb2 import DataType

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
MAX = 1024


def field_of(upload: Upload) -> tuple[str, str]:
    with pytest.raises(InvalidField) as error:
        prepare(upload, "p", "items[3]", MAX)
    return error.value.field, error.value.reason


def test_text_item_is_keyed_by_project_item_and_hash() -> None:
    item = prepare(Upload(text="héllo"), "p1", "items[0]", MAX)
    assert item.data_type == DataType.DATA_TYPE_TEXT
    assert item.content == "héllo".encode()
    assert item.sha256 == hashlib.sha256("héllo".encode()).hexdigest()
    assert item.media_key == f"projects/p1/items/{item.item_id}/{item.sha256}"


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
