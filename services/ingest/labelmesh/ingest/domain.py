"""Upload validation and item identity. Pure: no I/O."""

from __future__ import annotations

import hashlib
import io
import mimetypes
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import PIL.Image

from labelmesh.core.errors import InvalidField
from labelmesh.ingest.imported import (
    UPLOAD_SOURCE,
    annotations_of,
    checked_source,
    checked_source_uri,
    predictions_of,
)
from labelmesh.v1.events_pb2 import DataType, ImportedAnnotation, ImportedPrediction

# Leading bytes of the image formats whose content can be checked cheaply.
IMAGE_SIGNATURES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
MAX_METADATA_ENTRIES = 64
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
# Text up to this size is kept in the item's record, not written to the object store.
MAX_INLINE_TEXT_BYTES = 64 * 1024
# Item ids are name-based (version 5) UUIDs in this namespace: see `item_id_for`.
ITEM_ID_NAMESPACE = uuid.UUID("29d4bc8a-d373-4411-a1be-a541f094c127")
# Read once: each read of a protobuf enum's attribute is a slow lookup.
TEXT, IMAGE = DataType.DATA_TYPE_TEXT, DataType.DATA_TYPE_IMAGE
UNSPECIFIED = DataType.DATA_TYPE_UNSPECIFIED
DATA_TYPES = {
    "text": TEXT,
    "image": IMAGE,
    "audio": DataType.DATA_TYPE_AUDIO,
    "video": DataType.DATA_TYPE_VIDEO,
}
_UUID5_VERSION = 5 << 76
_UUID_VARIANT_MASK, _UUID_RFC_4122 = 0xC000 << 48, 0x8000 << 48


def item_id_for(project_id: str, sha256: str) -> str:
    """The id of the item with this content in this project.

    Content is stored once per project, so the pair is the item's natural key:
    the id follows from it, and looking an upload up by id is the dedup check.
    The same as `str(uuid.uuid5(ITEM_ID_NAMESPACE, f"{project_id}/{sha256}"))`,
    in a third of the time (it runs twice per uploaded item).
    """
    name = f"{project_id}/{sha256}".encode()
    digest = hashlib.sha1(ITEM_ID_NAMESPACE.bytes + name, usedforsecurity=False).digest()
    number = int.from_bytes(digest[:16], "big") & ~(0xF000 << 64) | _UUID5_VERSION
    number = number & ~_UUID_VARIANT_MASK | _UUID_RFC_4122
    hex_ = f"{number:032x}"
    return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"


@dataclass(frozen=True)
class MediaRef:
    """Media that stays in a customer's bucket: where it is, and a presigned URL
    that reads it until `url_expires_at`."""

    bucket_id: str
    uri: str
    url: str
    url_expires_at: datetime


@dataclass(frozen=True)
class Upload:
    """One item as received, before validation."""

    filename: str = ""
    content_type: str = ""
    content: bytes = b""
    text: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    # Each an ImportedAnnotation (ImportedPrediction) or its proto-JSON as received.
    annotations: Sequence[object] = ()
    predictions: Sequence[object] = ()
    # How the item came in (`default_source` of `prepare` when empty) and from where.
    source: str = ""
    source_uri: str = ""
    # Set when the media is not to be copied: the item refers to it where it is.
    media_ref: MediaRef | None = None


@dataclass(frozen=True)
class PreparedItem:
    """A validated upload with its identity and storage key decided."""

    item_id: str
    project_id: str
    data_type: DataType
    content_type: str
    content: bytes
    sha256: str
    filename: str
    text: str
    metadata: dict[str, str]
    # Kept in the item's record rather than in the object store (short text).
    inline: bool
    # Where the object store keeps the content; empty when inline or referenced.
    media_key: str
    # An image's pixel size from its header; 0 and 0 when not an image or unreadable.
    width: int = 0
    height: int = 0
    source: str = UPLOAD_SOURCE
    source_uri: str = ""
    annotations: tuple[ImportedAnnotation, ...] = ()
    predictions: tuple[ImportedPrediction, ...] = ()
    media_ref: MediaRef | None = None


def data_type_of(content_type: str) -> DataType:
    return DATA_TYPES.get(content_type.split("/", 1)[0], UNSPECIFIED)


def media_key(project_id: str, item_id: str, sha256: str) -> str:
    """A fresh object-store key for an upload's media. The random segment sets it
    apart from a concurrent upload of the same content (same item id), so that
    cleaning up after a failed upload never deletes the other's media."""
    return f"projects/{project_id}/items/{item_id}/{secrets.token_hex(8)}/{sha256}"


def prepare(
    upload: Upload,
    project_id: str,
    field_path: str,
    max_bytes: int,
    default_source: str = UPLOAD_SOURCE,
) -> PreparedItem:
    """Validate one upload; raise InvalidField naming the field under `field_path`."""
    source = checked_source(upload.source, default_source, f"{field_path}.source")
    source_uri = checked_source_uri(upload.source_uri, f"{field_path}.source_uri")
    annotations = annotations_of(upload.annotations, f"{field_path}.annotations")
    predictions = predictions_of(upload.predictions, f"{field_path}.predictions")
    if upload.text and upload.content:
        raise InvalidField(f"{field_path}.text", "give either text or content, not both")
    if len(upload.metadata) > MAX_METADATA_ENTRIES:
        raise InvalidField(f"{field_path}.metadata", f"at most {MAX_METADATA_ENTRIES} entries")
    if upload.text:
        content = upload.text.encode()
        content_type = TEXT_CONTENT_TYPE
        text = upload.text
    else:
        content = upload.content
        if not content:
            at = f"{field_path}.content" if upload.filename else f"{field_path}.text"
            raise InvalidField(at, "empty: an item needs text or non-empty file content")
        guessed = mimetypes.guess_type(upload.filename)[0] if upload.filename else None
        content_type = (upload.content_type or guessed or "").lower()
        if not content_type:
            raise InvalidField(
                f"{field_path}.content_type",
                f"unknown media type for file {upload.filename!r}: set content_type",
            )
        text = ""
    if len(content) > max_bytes:
        raise InvalidField(f"{field_path}.content", f"{len(content)} bytes exceeds {max_bytes}")
    data_type = data_type_of(content_type)
    if data_type == UNSPECIFIED:
        raise InvalidField(f"{field_path}.content_type", f"unsupported media type {content_type!r}")
    if data_type == TEXT and not text:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidField(
                f"{field_path}.content", f"text is not UTF-8: {exc.reason}"
            ) from None
    signatures = IMAGE_SIGNATURES.get(content_type.split(";", 1)[0])
    if signatures and not content.startswith(signatures):
        raise InvalidField(f"{field_path}.content", f"bytes are not a valid {content_type} file")
    sha256 = hashlib.sha256(content).hexdigest()
    item_id = item_id_for(project_id, sha256)
    inline = data_type == TEXT and len(content) <= MAX_INLINE_TEXT_BYTES
    width, height = image_size(content) if data_type == IMAGE else (0, 0)
    return PreparedItem(
        item_id=item_id,
        project_id=project_id,
        data_type=data_type,
        content_type=content_type,
        content=content,
        sha256=sha256,
        filename=upload.filename,
        text=text,
        metadata=dict(upload.metadata),
        inline=inline,
        media_key="" if inline or upload.media_ref else media_key(project_id, item_id, sha256),
        width=width,
        height=height,
        source=source,
        source_uri=source_uri,
        annotations=annotations,
        predictions=predictions,
        media_ref=None if inline else upload.media_ref,
    )


def image_size(content: bytes) -> tuple[int, int]:
    """Width and height from the image's header, without decoding its pixels;
    (0, 0) when the header cannot be read, so that exports read the image then."""
    try:
        with PIL.Image.open(io.BytesIO(content)) as image:
            width, height = image.size
    except (PIL.UnidentifiedImageError, OSError, ValueError):
        return 0, 0
    return width, height
