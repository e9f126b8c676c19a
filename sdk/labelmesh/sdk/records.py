"""One thing to upload: a text, a local file, bytes in memory or a URL for the
server to fetch, with what travels with it (metadata, annotations and
predictions made elsewhere)."""

from __future__ import annotations

import base64
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Kind = Literal["text", "file", "url"]
MediaType = Literal["text", "image", "audio", "video", "other"]
# A MIME type's major part, as the data type it stands for.
MEDIA_TYPES: dict[str, MediaType] = {
    "text": "text",
    "image": "image",
    "audio": "audio",
    "video": "video",
}


@dataclass(frozen=True)
class UploadRecord:
    """`key` names the record within its source (a file's relative path, a URL,
    a manifest's row) and is how the upload log knows it again."""

    key: str
    text: str | None = None
    path: str | None = None
    data: bytes | None = None
    url: str | None = None
    filename: str = ""
    content_type: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    predictions: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""
    source_uri: str = ""

    def __post_init__(self) -> None:
        given = [n for n in ("text", "path", "data", "url") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                f"record {self.key!r}: give exactly one of text, path, data or url, not {given}"
            )

    @property
    def kind(self) -> Kind:
        if self.text is not None:
            return "text"
        return "url" if self.url is not None else "file"

    @property
    def name(self) -> str:
        """The file name the server is told."""
        return self.filename or (Path(self.path).name if self.path else self.key)

    @property
    def media_type(self) -> MediaType:
        if self.kind == "text":
            return "text"
        guessed = self.content_type or mimetypes.guess_type(self.url or self.name)[0] or ""
        return MEDIA_TYPES.get(guessed.split("/")[0], "other")

    def read(self) -> bytes:
        """A file record's bytes."""
        if self.data is not None:
            return self.data
        if self.path is None:
            raise ValueError(f"record {self.key!r} has no file to read")
        return Path(self.path).read_bytes()

    def extras(self) -> dict[str, Any]:
        """The fields besides the content that the server takes with it."""
        extras: dict[str, Any] = {}
        if self.metadata:
            extras["metadata"] = self.metadata
        if self.annotations:
            extras["annotations"] = self.annotations
        if self.predictions:
            extras["predictions"] = self.predictions
        if self.source:
            extras["source"] = self.source
        if self.source_uri:
            extras["source_uri"] = self.source_uri
        return extras

    def to_json(self) -> dict[str, Any]:
        """The record as JSON, so that an upload log can send it again."""
        body: dict[str, Any] = {"key": self.key, **self.extras()}
        for name in ("text", "path", "url", "filename", "content_type"):
            if getattr(self, name):
                body[name] = getattr(self, name)
        if self.text == "":
            body["text"] = ""
        if self.data is not None:
            body["data_base64"] = base64.b64encode(self.data).decode()
        return body

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> UploadRecord:
        fields = dict(body)
        encoded = fields.pop("data_base64", None)
        if encoded is not None:
            fields["data"] = base64.b64decode(encoded)
        return cls(**fields)
