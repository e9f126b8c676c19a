"""Upload validation and item identity. Pure: no I/O."""

from __future__ import annotations

import hashlib
import mimetypes
import uuid
from dataclasses import dataclass, field

from labelmesh.core.errors import InvalidField
from labelmesh.v1.events_pb2 import DataType

# Leading bytes of the image formats whose content can be checked cheaply.
IMAGE_SIGNATURES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
MAX_METADATA_ENTRIES = 64


@dataclass(frozen=True)
class Upload:
    """One item as received, before validation."""

    filename: str = ""
    content_type: str = ""
    content: bytes = b""
    text: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


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

    @property
    def media_key(self) -> str:
        return f"projects/{self.project_id}/items/{self.item_id}/{self.sha256}"


def data_type_of(content_type: str) -> DataType:
    major = content_type.split("/", 1)[0]
    return {
        "text": DataType.DATA_TYPE_TEXT,
        "image": DataType.DATA_TYPE_IMAGE,
        "audio": DataType.DATA_TYPE_AUDIO,
        "video": DataType.DATA_TYPE_VIDEO,
    }.get(major, DataType.DATA_TYPE_UNSPECIFIED)


def prepare(upload: Upload, project_id: str, field_path: str, max_bytes: int) -> PreparedItem:
    """Validate one upload; raise InvalidField naming the field under `field_path`."""
    if upload.text and upload.content:
        raise InvalidField(f"{field_path}.text", "give either text or content, not both")
    if len(upload.metadata) > MAX_METADATA_ENTRIES:
        raise InvalidField(f"{field_path}.metadata", f"at most {MAX_METADATA_ENTRIES} entries")
    if upload.text:
        content = upload.text.encode()
        content_type = "text/plain; charset=utf-8"
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
    if data_type == DataType.DATA_TYPE_UNSPECIFIED:
        raise InvalidField(f"{field_path}.content_type", f"unsupported media type {content_type!r}")
    if data_type == DataType.DATA_TYPE_TEXT and not text:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidField(
                f"{field_path}.content", f"text is not UTF-8: {exc.reason}"
            ) from None
    signatures = IMAGE_SIGNATURES.get(content_type.split(";", 1)[0])
    if signatures and not content.startswith(signatures):
        raise InvalidField(f"{field_path}.content", f"bytes are not a valid {content_type} file")
    return PreparedItem(
        item_id=str(uuid.uuid4()),
        project_id=project_id,
        data_type=data_type,
        content_type=content_type,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        filename=upload.filename,
        text=text,
        metadata=dict(upload.metadata),
    )
