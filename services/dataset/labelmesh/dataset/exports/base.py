"""What every format writer is given and must do.

A writer is made once per export with its `ExportContext`, is handed the
version's items in order through `add` (or a `LineWriter` their stored JSONL
lines through `add_lines`), and writes its last files in `finish`. It runs
in a worker thread, never on the event loop. Writers that keep a file open
across items (a COCO annotation list, a TFRecord) build it under
`context.workdir` and add it to the archive at the end, so memory holds one
chunk of items whatever the version's size.
"""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from labelmesh.dataset.exports.archive import Archive
from labelmesh.v1.dataset_service_pb2 import DatasetItem
from labelmesh.v1.events_pb2 import DatasetVersion

# The split name of items in a version that is not split.
UNSPLIT = "all"
# Types that mimetypes does not know, or gives an unusual extension for.
_SUFFIXES = {"audio/wav": ".wav", "audio/x-wav": ".wav", "image/jpeg": ".jpg"}


class ExportFailed(Exception):
    """An export cannot be written; the message says which item and why."""


@dataclass(frozen=True)
class Media:
    """An item's media bytes as stored, and an image's pixel size (0 by 0 for
    audio). An image's bytes are empty when the format does not write them
    and its size was recorded at ingest."""

    data: bytes
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class ExportContext:
    version: DatasetVersion
    archive: Archive
    # A private directory for files a writer builds before adding them.
    workdir: Path
    # Whether the archive carries the media files.
    include_media: bool

    @property
    def classes(self) -> list[str]:
        """The project's classes, in the order their ids follow."""
        return list(self.version.classes)

    @property
    def splits(self) -> list[str]:
        """The version's split names, in a stable order; [UNSPLIT] when not split."""
        return sorted(self.version.split.ratios) or [UNSPLIT]


class FormatWriter(Protocol):
    def add(self, item: DatasetItem, media: Media | None) -> None:
        """Write one item; `media` is given to writers of formats that read it."""
        ...

    def finish(self) -> None:
        """Write what is left once every item has been added."""
        ...


@runtime_checkable
class LineWriter(Protocol):
    """The writer of a format made of the lines a version stores, copied as they are."""

    def add_lines(self, lines: Sequence[bytes]) -> None:
        """Write one chunk's lines, each ending in a newline."""
        ...

    def finish(self) -> None:
        """Write what is left once every line has been added."""
        ...


def split_of(item: DatasetItem) -> str:
    return item.split or UNSPLIT


def media_name(item: DatasetItem) -> str:
    """The item's media file name in an archive: its id, with the extension of
    its original name or else of its content type."""
    # posixpath rather than PurePosixPath: this runs for every image of an export.
    suffix = posixpath.splitext(posixpath.basename(item.filename))[1].lower().rstrip(".")
    if not suffix:
        content_type = item.content_type or ""
        suffix = _SUFFIXES.get(content_type) or mimetypes.guess_extension(content_type) or ""
    return f"{item.item_id}{suffix}"


def stem(item: DatasetItem) -> str:
    """The name an item's per-item files share, such as a YOLO label file."""
    return item.item_id
