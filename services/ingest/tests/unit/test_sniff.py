"""Media types from leading bytes."""

from __future__ import annotations

import pytest

from labelmesh.ingest.sniff import sniffed_type
from labelmesh.testing.exports import png, wav


@pytest.mark.parametrize(
    ("content", "media_type"),
    [
        (png(2, 2), "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (wav(0.01), "audio/wav"),
        (b"ID3\x04\x00", "audio/mpeg"),
        (b"\xff\xfb\x90\x00", "audio/mpeg"),
        (b"fLaC\x00", "audio/flac"),
        (b"OggS\x00\x02", "audio/ogg"),
        (b"\x00\x00\x00\x18ftypisom", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  ", "video/quicktime"),
        (b"\x1aE\xdf\xa3\x9fB\x86", "video/webm"),
        ("plain text, é\n".encode(), "text/plain; charset=utf-8"),
    ],
)
def test_known_signatures_give_their_type(content: bytes, media_type: str) -> None:
    assert sniffed_type(content) == media_type


@pytest.mark.parametrize(
    "content", [b"", b"%PDF-1.7\n\x00\x01", b"\x00\x01\x02 binary", "é".encode("latin-1") + b"x"]
)
def test_other_bytes_are_not_a_type_ingest_accepts(content: bytes) -> None:
    assert sniffed_type(content) is None
