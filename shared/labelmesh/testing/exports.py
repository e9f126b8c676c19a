"""Items of every kind with every geometry, and a way to export them through a
format's writer, for the tests that read exports back with each format's own reader."""

from __future__ import annotations

import asyncio
import io
import math
import tarfile
import wave
import zipfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import PIL.Image
from numpy.typing import NDArray

from labelmesh.dataset.domain import jsonl_line
from labelmesh.dataset.exports.formats import FORMATS
from labelmesh.dataset.exports.runner import ExportRun, write_export
from labelmesh.dataset.records import ManifestChunk
from labelmesh.v1.dataset_service_pb2 import ArchiveFormat, DatasetItem
from labelmesh.v1.events_pb2 import DatasetVersion, DataType, KeypointSkeleton, SkeletonEdge
from labelmesh.v1.geometry_pb2 import (
    BoundingBox,
    Classification,
    Keypoint,
    Keypoints,
    Label,
    Mask,
    Point,
    Polygon,
    TextSpan,
    TimeSegment,
    Transcription,
    Word,
)

IMAGE_CLASSES = ["cat", "dog", "person"]
TEXT_CLASSES = ["PER", "ORG", "LOC", "positive", "negative"]
AUDIO_CLASSES = ["speech", "music"]
PERSON_SKELETON = KeypointSkeleton(
    label="person",
    keypoints=["head", "left_hand", "right_hand"],
    edges=[SkeletonEdge(**{"from": 0, "to": 1}), SkeletonEdge(**{"from": 0, "to": 2})],
)


@dataclass
class Sample:
    """Items of one data type, the media bytes of each by item id, and a version
    of them; `media_reads` lists the items whose media an export read."""

    items: list[DatasetItem]
    media: dict[str, bytes] = field(default_factory=dict)
    version: DatasetVersion = field(default_factory=DatasetVersion)
    media_reads: list[str] = field(default_factory=list)


def png(width: int, height: int, seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    out = io.BytesIO()
    PIL.Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def wav(seconds: float, rate: int = 16_000) -> bytes:
    frames = (
        (np.sin(np.arange(int(seconds * rate)) * 2 * math.pi * 440 / rate) * 8000)
        .astype("<i2")
        .tobytes()
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(frames)
    return out.getvalue()


def mask_rle(bits: NDArray[np.uint8]) -> list[int]:
    """Row-major run lengths starting with zeros, as LabelMesh stores masks."""
    flat = bits.astype(bool).ravel()
    counts, value, run = [], False, 0
    for bit in flat:
        if bit == value:
            run += 1
        else:
            counts.append(run)
            value, run = bool(bit), 1
    counts.append(run)
    return counts


def disc(width: int, height: int, cx: float, cy: float, r: float) -> NDArray[np.uint8]:
    ys, xs = np.mgrid[0:height, 0:width]
    inside: NDArray[np.uint8] = ((xs - cx) ** 2 + (ys - cy) ** 2 <= r * r).astype(np.uint8)
    return inside


def _version(data_type: int, classes: list[str], splits: bool) -> DatasetVersion:
    version = DatasetVersion(
        version_id="v" * 64,
        project_id="p1",
        name="sample",
        classes=classes,
        skeletons=[PERSON_SKELETON] if data_type == DataType.DATA_TYPE_IMAGE else [],
    )
    if splits:
        version.split.ratios.update({"train": 0.5, "val": 0.5})
    return version


def image_sample(splits: bool = True) -> Sample:
    """Three images: boxes and a classification; polygons and a mask; keypoints."""
    first = DatasetItem(
        item_id="img-0",
        data_type=DataType.DATA_TYPE_IMAGE,
        media_key="projects/p1/items/img-0/a",
        content_type="image/png",
        filename="street.png",
        split="train" if splits else "",
        labels=[
            Label(bounding_box=BoundingBox(label="cat", x=4, y=6, width=20, height=12)),
            Label(bounding_box=BoundingBox(label="dog", x=30.5, y=10, width=16, height=22.5)),
            Label(classification=Classification(label="cat")),
        ],
    )
    first.metadata["source"] = "camera-1"
    mask = disc(48, 40, 20, 18, 9)
    second = DatasetItem(
        item_id="img-1",
        data_type=DataType.DATA_TYPE_IMAGE,
        media_key="projects/p1/items/img-1/b",
        content_type="image/png",
        filename="yard.png",
        split="val" if splits else "",
        labels=[
            Label(
                polygon=Polygon(
                    label="dog",
                    points=[Point(x=2, y=2), Point(x=20, y=3), Point(x=16, y=18), Point(x=3, y=14)],
                )
            ),
            Label(mask=Mask(label="cat", width=48, height=40, counts=mask_rle(mask))),
        ],
    )
    third = DatasetItem(
        item_id="img-2",
        data_type=DataType.DATA_TYPE_IMAGE,
        media_key="projects/p1/items/img-2/c",
        content_type="image/png",
        filename="park.png",
        split="train" if splits else "",
        labels=[
            Label(bounding_box=BoundingBox(label="person", x=10, y=5, width=20, height=30)),
            Label(
                keypoints=Keypoints(
                    label="person",
                    points=[
                        Keypoint(name="head", position=Point(x=20, y=8), visibility=1),
                        Keypoint(name="left_hand", position=Point(x=12, y=20), visibility=1),
                        Keypoint(name="right_hand", position=Point(x=28, y=21), visibility=0),
                    ],
                )
            ),
        ],
    )
    items = [first, second, third]
    sizes = {"img-0": (64, 48), "img-1": (48, 40), "img-2": (40, 40)}
    media = {i: png(*size, seed=n) for n, (i, size) in enumerate(sizes.items())}
    return Sample(items, media, _version(DataType.DATA_TYPE_IMAGE, IMAGE_CLASSES, splits))


def text_sample(splits: bool = True) -> Sample:
    """Sentences with entities and a sentiment class."""
    texts = [
        (
            "txt-0",
            "Alice works at Acme in Paris.",
            [("PER", 0, 5), ("ORG", 15, 19), ("LOC", 23, 28)],
            "positive",
        ),
        ("txt-1", "Bob left Globex yesterday.", [("PER", 0, 3), ("ORG", 9, 15)], "negative"),
        ("txt-2", "Nothing happened in Rome today.", [("LOC", 20, 24)], "negative"),
    ]
    items = []
    for n, (item_id, text, spans, sentiment) in enumerate(texts):
        labels = [
            Label(text_span=TextSpan(label=c, start=s, end=e, text=text[s:e])) for c, s, e in spans
        ]
        labels.append(Label(classification=Classification(label=sentiment)))
        items.append(
            DatasetItem(
                item_id=item_id,
                data_type=DataType.DATA_TYPE_TEXT,
                text=text,
                split=("train" if n % 2 == 0 else "val") if splits else "",
                labels=labels,
            )
        )
    return Sample(items, {}, _version(DataType.DATA_TYPE_TEXT, TEXT_CLASSES, splits))


def audio_sample(splits: bool = True) -> Sample:
    """Recordings with a transcription, its words, and labelled time segments."""
    items, media = [], {}
    for n, (text, seconds) in enumerate([("hello world", 1.5), ("good morning to you", 2.0)]):
        item_id = f"aud-{n}"
        words = text.split()
        step = seconds / len(words)
        transcription = Transcription(
            text=text,
            start_seconds=0.0,
            end_seconds=seconds,
            words=[
                Word(text=w, start_seconds=i * step, end_seconds=(i + 1) * step, probability=0.9)
                for i, w in enumerate(words)
            ],
        )
        items.append(
            DatasetItem(
                item_id=item_id,
                data_type=DataType.DATA_TYPE_AUDIO,
                media_key=f"projects/p1/items/{item_id}/w",
                content_type="audio/wav",
                filename=f"clip{n}.wav",
                split=("train" if n == 0 else "val") if splits else "",
                labels=[
                    Label(transcription=transcription),
                    Label(
                        time_segment=TimeSegment(label="speech", start_seconds=0.1, end_seconds=1.0)
                    ),
                ],
            )
        )
        media[item_id] = wav(seconds)
    return Sample(items, media, _version(DataType.DATA_TYPE_AUDIO, AUDIO_CLASSES, splits))


def export_sample(
    sample: Sample,
    export_format: int,
    workdir: Path,
    *,
    include_media: bool = True,
    archive: int = ArchiveFormat.ARCHIVE_FORMAT_ZIP,
    chunk: int = 2,
) -> Path:
    """Export the sample through the format's writer, as the service does, and
    unpack the archive; returns the directory it was unpacked into."""
    workdir.mkdir(parents=True, exist_ok=True)
    run = ExportRun(sample.version, FORMATS[export_format], archive, include_media, workdir)

    async def chunks() -> AsyncIterator[ManifestChunk]:
        for start in range(0, len(sample.items), chunk):
            items = sample.items[start : start + chunk]
            raw = tuple(item.SerializeToString() for item in items)
            yield ManifestChunk("sample", start // chunk, raw, tuple(map(jsonl_line, items)))

    async def read_media(items: Sequence[DatasetItem]) -> list[bytes | None]:
        sample.media_reads.extend(i.item_id for i in items)
        return [sample.media.get(i.item_id) for i in items]

    async def progress(done: int) -> None:
        return None

    path = asyncio.run(write_export(run, chunks(), read_media, progress))
    unpacked = workdir / "unpacked"
    if archive == ArchiveFormat.ARCHIVE_FORMAT_TAR:
        with tarfile.open(path) as tar:
            tar.extractall(unpacked, filter="data")
    else:
        with zipfile.ZipFile(path) as zipped:
            zipped.extractall(unpacked)
    return unpacked
