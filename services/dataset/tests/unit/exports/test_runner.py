"""Which media an export reads: only what it writes or augments, and images
whose size ingest did not record."""

from __future__ import annotations

import io
import json
from pathlib import Path

import PIL.Image
import pytest

from labelmesh.testing.exports import Sample, audio_sample, export_sample, image_sample
from labelmesh.v1.dataset_service_pb2 import ExportFormat

COCO_FORMAT = ExportFormat.EXPORT_FORMAT_COCO


def _with_recorded_sizes(sample: Sample) -> Sample:
    for item in sample.items:
        with PIL.Image.open(io.BytesIO(sample.media[item.item_id])) as image:
            item.width, item.height = image.size
    return sample


def _coco_sizes(unpacked: Path) -> dict[str, tuple[int, int]]:
    sizes = {}
    for path in (unpacked / "annotations").glob("instances_*.json"):
        for image in json.loads(path.read_text())["images"]:
            sizes[image["labelmesh_item_id"]] = (image["width"], image["height"])
    return sizes


def test_coco_takes_the_recorded_size_and_reads_no_image(tmp_path: Path) -> None:
    sample = _with_recorded_sizes(image_sample())
    unpacked = export_sample(sample, COCO_FORMAT, tmp_path, include_media=False)
    assert sample.media_reads == []
    assert _coco_sizes(unpacked) == {i.item_id: (i.width, i.height) for i in sample.items}


def test_an_image_without_a_recorded_size_is_read_for_it(tmp_path: Path) -> None:
    sample = _with_recorded_sizes(image_sample())
    unsized = sample.items[1]
    unsized.ClearField("width")
    unsized.ClearField("height")
    unpacked = export_sample(sample, COCO_FORMAT, tmp_path, include_media=False)
    assert sample.media_reads == [unsized.item_id]
    with PIL.Image.open(io.BytesIO(sample.media[unsized.item_id])) as image:
        assert _coco_sizes(unpacked)[unsized.item_id] == image.size


@pytest.mark.parametrize(
    ("export_format", "include_media"),
    [
        (COCO_FORMAT, True),
        (ExportFormat.EXPORT_FORMAT_PASCAL_VOC, True),
        (ExportFormat.EXPORT_FORMAT_YOLO_DETECT, False),
        (ExportFormat.EXPORT_FORMAT_TFRECORD, False),
    ],
)
def test_a_format_that_writes_the_images_reads_every_one(
    tmp_path: Path, export_format: int, include_media: bool
) -> None:
    sample = _with_recorded_sizes(image_sample())
    export_sample(sample, export_format, tmp_path, include_media=include_media)
    assert sorted(sample.media_reads) == sorted(i.item_id for i in sample.items)


def test_an_augmented_version_reads_every_image(tmp_path: Path) -> None:
    sample = _with_recorded_sizes(image_sample())
    sample.version.augmentation.copies = 1
    sample.version.augmentation.seed = 7
    sample.version.augmentation.horizontal_flip = 1.0
    export_sample(sample, COCO_FORMAT, tmp_path, include_media=False)
    assert sorted(sample.media_reads) == sorted(i.item_id for i in sample.items)


@pytest.mark.parametrize(
    "export_format",
    [ExportFormat.EXPORT_FORMAT_NEMO_MANIFEST, ExportFormat.EXPORT_FORMAT_LABEL_STUDIO],
)
def test_recordings_are_read_only_to_go_into_the_archive(
    tmp_path: Path, export_format: int
) -> None:
    without = audio_sample()
    export_sample(without, export_format, tmp_path / "without", include_media=False)
    assert without.media_reads == []
    including = audio_sample()
    export_sample(including, export_format, tmp_path / "with", include_media=True)
    assert sorted(including.media_reads) == sorted(i.item_id for i in including.items)
