"""Writing one export: a version's stored chunks, one at a time, through its
format's writer into an archive on local disk.

The event loop reads chunks and the media the export needs (a format that
writes an image's size alone takes the size recorded at ingest); augmenting
and writing run in a worker thread, one chunk at a time, so memory holds one
chunk's items and media whatever the version's size. A format made of the
stored JSONL lines is given them as they are.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import PIL.Image

from labelmesh.dataset.exports import augment
from labelmesh.dataset.exports.archive import archive_suffix, open_archive
from labelmesh.dataset.exports.base import (
    ExportContext,
    ExportFailed,
    FormatWriter,
    LineWriter,
    Media,
)
from labelmesh.dataset.exports.formats import FormatSpec
from labelmesh.dataset.records import ManifestChunk
from labelmesh.v1.dataset_service_pb2 import DatasetItem
from labelmesh.v1.events_pb2 import DatasetVersion, DataType

# Reads the media bytes of the given items, None for an item with no media.
MediaReader = Callable[[Sequence[DatasetItem]], Awaitable[list[bytes | None]]]
Progress = Callable[[int], Awaitable[None]]

# Read once: each read of a protobuf enum's attribute is a slow lookup.
IMAGE_ITEM, AUDIO_ITEM = DataType.DATA_TYPE_IMAGE, DataType.DATA_TYPE_AUDIO


@dataclass(frozen=True)
class ExportRun:
    version: DatasetVersion
    spec: FormatSpec
    archive: int
    include_media: bool
    workdir: Path


async def write_export(
    run: ExportRun,
    chunks: AsyncIterator[ManifestChunk],
    read_media: MediaReader,
    progress: Progress,
) -> Path:
    """Write the archive of `run` and return its path; `progress` hears the
    number of items written after each chunk."""
    path = run.workdir / f"export{archive_suffix(run.archive)}"
    staging = run.workdir / "staging"
    staging.mkdir()
    archive = open_archive(run.archive, path)
    try:
        context = ExportContext(run.version, archive, staging, run.include_media)
        writer = await asyncio.to_thread(run.spec.writer, context)
        done = 0
        async for chunk in chunks:
            if isinstance(writer, LineWriter):
                await asyncio.to_thread(writer.add_lines, chunk.lines)
            else:
                items = [DatasetItem.FromString(raw) for raw in chunk.items]
                media = await _media_of(run, items, read_media)
                await asyncio.to_thread(_add_chunk, writer, run.version, items, media)
            done += len(chunk.items)
            await progress(done)
        await asyncio.to_thread(writer.finish)
    finally:
        await asyncio.to_thread(archive.close)
    return path


async def _media_of(
    run: ExportRun, items: Sequence[DatasetItem], read_media: MediaReader
) -> list[bytes | None]:
    """The media of the items whose bytes the export needs, None for the others."""
    wanted = [n for n, item in enumerate(items) if _needs_media(run, item)]
    media: list[bytes | None] = [None] * len(items)
    if wanted:
        for n, data in zip(wanted, await read_media([items[n] for n in wanted]), strict=True):
            media[n] = data
    return media


def _needs_media(run: ExportRun, item: DatasetItem) -> bool:
    """Whether an item's bytes must be read: audio to be written; an image to
    be written or augmented, or for the size that ingest did not record."""
    if item.data_type == AUDIO_ITEM:
        return run.spec.writes_audio and run.include_media
    if not run.spec.reads_images or item.data_type != IMAGE_ITEM:
        return False
    if run.spec.embeds_images or run.include_media or run.version.augmentation.copies:
        return True
    return not (item.width and item.height)


def _add_chunk(
    writer: FormatWriter,
    version: DatasetVersion,
    chunk: Sequence[DatasetItem],
    media: Sequence[bytes | None],
) -> None:
    mirrors = augment.mirrored_names(version.skeletons) if version.augmentation.copies else {}
    for item, data in zip(chunk, media, strict=True):
        for variant, image in _variants(version, mirrors, item, data):
            writer.add(variant, image)


def _variants(
    version: DatasetVersion, mirrors: augment.MirroredNames, item: DatasetItem, data: bytes | None
) -> Iterator[tuple[DatasetItem, Media | None]]:
    """The item as stored, then its augmented copies when the version has a recipe.
    An image whose bytes the export did not need has only its recorded size."""
    if item.data_type != IMAGE_ITEM:
        yield item, None if data is None else Media(data)
        return
    if data is None:
        size_only = Media(b"", item.width, item.height) if item.width and item.height else None
        yield item, size_only
        return
    try:
        image = image_of(data)
    except (PIL.UnidentifiedImageError, OSError) as error:
        raise ExportFailed(f"item {item.item_id}: its media is not a readable image") from error
    yield item, image
    if version.augmentation.copies:
        yield from augment.copies(item, image, version.augmentation, mirrors)


def image_of(data: bytes) -> Media:
    """The image's size, read from its header alone."""
    with PIL.Image.open(io.BytesIO(data)) as opened:
        width, height = opened.size
    return Media(data, width, height)
