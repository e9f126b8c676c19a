"""The media type of fetched bytes, from their leading bytes rather than what a
server claims. Pure."""

from __future__ import annotations

from labelmesh.ingest.domain import TEXT_CONTENT_TYPE

# (offset, leading bytes, media type); the first match wins.
SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"BM", "image/bmp"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"fLaC", "audio/flac"),
    (0, b"OggS", "audio/ogg"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"\x1aE\xdf\xa3", "video/webm"),
)
# RIFF containers: the type is the four bytes at offset 8.
RIFF_TYPES = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}
# ISO base media files ("ftyp" at offset 4): by major brand.
FTYP_BRANDS = {b"qt  ": "video/quicktime", b"M4A ": "audio/mp4", b"M4B ": "audio/mp4"}
# MPEG audio frames without an ID3 tag start with an 11-bit frame sync.
MPEG_FRAME_SYNC = (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")
# Text: characters that no UTF-8 text file holds.
BINARY_CONTROL = frozenset(range(0x00, 0x09)) | {0x0B, 0x0E, 0x0F} | frozenset(range(0x10, 0x1B))


def sniffed_type(content: bytes) -> str | None:
    """The media type of `content` among those ingest accepts, or None."""
    for offset, signature, media_type in SIGNATURES:
        if content.startswith(signature, offset):
            return media_type
    if content.startswith(b"RIFF") and content[8:12] in RIFF_TYPES:
        return RIFF_TYPES[content[8:12]]
    if content[4:8] == b"ftyp":
        return FTYP_BRANDS.get(content[8:12], "video/mp4")
    if content.startswith(MPEG_FRAME_SYNC):
        return "audio/mpeg"
    return TEXT_CONTENT_TYPE if _is_text(content) else None


def _is_text(content: bytes) -> bool:
    if not content or BINARY_CONTROL.intersection(content[:8192]):
        return False
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
