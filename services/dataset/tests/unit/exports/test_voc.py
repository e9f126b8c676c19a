"""Pascal VOC exports, read back with globox."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import PIL.Image
import pytest
from globox import AnnotationSet

from labelmesh.testing.exports import (
    IMAGE_CLASSES,
    Sample,
    export_sample,
    image_sample,
    png,
    text_sample,
)
from labelmesh.v1.dataset_service_pb2 import ArchiveFormat, DatasetItem, ExportFormat
from labelmesh.v1.events_pb2 import DatasetVersion, DataType
from labelmesh.v1.geometry_pb2 import BoundingBox, Classification, Label, Point, Polygon

VOC = ExportFormat.EXPORT_FORMAT_PASCAL_VOC
Box = tuple[str, tuple[float, float, float, float]]


def _size(data: bytes) -> tuple[int, int]:
    with PIL.Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    return width, height


def _stored_boxes(item: DatasetItem, classes: list[str]) -> list[Box]:
    boxes = [label.bounding_box for label in item.labels if label.HasField("bounding_box")]
    return [
        (b.label, (b.x, b.y, b.x + b.width, b.y + b.height)) for b in boxes if b.label in classes
    ]


def _read_boxes(annotations: AnnotationSet, file_name: str) -> list[Box]:
    return [(box.label, box.ltrb) for box in annotations[file_name].boxes]


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _class_list(path: Path) -> dict[str, int]:
    return {stem: int(flag) for stem, flag in (line.split() for line in _lines(path))}


def _classes_of(item: DatasetItem) -> set[str]:
    return {getattr(label, str(label.WhichOneof("kind"))).label for label in item.labels}


def test_boxes_sizes_and_splits_read_back(tmp_path: Path) -> None:
    sample = image_sample()
    unpacked = export_sample(sample, VOC, tmp_path / "export")

    annotations = AnnotationSet.from_pascal_voc(unpacked / "Annotations")
    assert sorted(annotations.image_ids) == ["img-0.png", "img-1.png", "img-2.png"]
    for item in sample.items:
        file_name = f"{item.item_id}.png"
        data = sample.media[item.item_id]
        assert annotations[file_name].image_size == _size(data)
        # Boxes only: img-1's polygon and mask are left out.
        assert _read_boxes(annotations, file_name) == _stored_boxes(item, IMAGE_CLASSES)
        assert (unpacked / "JPEGImages" / file_name).read_bytes() == data
    assert _read_boxes(annotations, "img-0.png")[1] == ("dog", (30.5, 10, 46.5, 32.5))
    assert _read_boxes(annotations, "img-1.png") == []

    main = unpacked / "ImageSets" / "Main"
    assert _lines(main / "train.txt") == ["img-0", "img-2"]
    assert _lines(main / "val.txt") == ["img-1"]
    for split in ("train", "val"):
        items = [item for item in sample.items if item.split == split]
        for name in IMAGE_CLASSES:
            expected = {i.item_id: 1 if name in _classes_of(i) else -1 for i in items}
            assert _class_list(main / f"{name}_{split}.txt") == expected
    assert _class_list(main / "person_train.txt") == {"img-0": -1, "img-2": 1}
    assert _lines(unpacked / "labelmap.txt") == IMAGE_CLASSES

    root = ET.parse(unpacked / "Annotations" / "img-0.xml").getroot()
    assert root.findtext("folder") == "JPEGImages"
    assert root.findtext("size/depth") == "3"
    for element in root.iter("object"):
        assert element.findtext("pose") == "Unspecified"
        assert element.findtext("truncated") == element.findtext("difficult") == "0"


def test_unsplit_in_a_tar_without_media_with_labels_left_out(tmp_path: Path) -> None:
    classes = ["traffic light", "traffic_light", "car"]
    third = 1 / 3
    items = [
        DatasetItem(
            item_id="a",
            data_type=DataType.DATA_TYPE_IMAGE,
            content_type="image/png",
            labels=[
                Label(bounding_box=BoundingBox(label="car", x=third, y=0.1, width=0.2, height=7)),
                Label(bounding_box=BoundingBox(label="bus", x=1, y=1, width=2, height=2)),
                Label(polygon=Polygon(label="car", points=[Point(x=1, y=1), Point(x=2, y=2)] * 2)),
                Label(classification=Classification(label="traffic light")),
            ],
        ),
        text_sample(splits=False).items[0],
        DatasetItem(
            item_id="b",
            data_type=DataType.DATA_TYPE_IMAGE,
            filename="b.jpeg",
            split="holdout",
            labels=[Label(bounding_box=BoundingBox(label="car", x=2, y=3, width=4, height=5))],
        ),
    ]
    version = DatasetVersion(version_id="v" * 64, classes=classes)
    sample = Sample(items, {"a": png(12, 9), "b": png(5, 6, seed=1)}, version)
    unpacked = export_sample(
        sample,
        VOC,
        tmp_path / "export",
        include_media=False,
        archive=ArchiveFormat.ARCHIVE_FORMAT_TAR,
    )

    assert sorted(p.name for p in unpacked.iterdir()) == [
        "Annotations",
        "ImageSets",
        "labelmap.txt",
    ]
    annotations = AnnotationSet.from_pascal_voc(unpacked / "Annotations")
    assert sorted(annotations.image_ids) == ["a.png", "b.jpeg"]
    [(label, ltrb)] = _read_boxes(annotations, "a.png")
    assert label == "car"
    assert ltrb == pytest.approx((third, 0.1, third + 0.2, 7.1), abs=1e-6)
    assert ltrb == (third, 0.1, third + 0.2, 0.1 + 7)
    assert annotations["a.png"].image_size == (12, 9)
    assert _read_boxes(annotations, "b.jpeg") == [("car", (2, 3, 6, 8))]

    main = unpacked / "ImageSets" / "Main"
    assert sorted(p.name for p in main.iterdir()) == [
        "all.txt",
        "car_all.txt",
        "car_holdout.txt",
        "holdout.txt",
        "traffic_light_all.txt",
        "traffic_light_holdout.txt",
    ]
    assert _lines(main / "all.txt") == ["a"]
    assert _lines(main / "holdout.txt") == ["b"]
    assert _class_list(main / "traffic_light_all.txt") == {"a": 1}
    assert _class_list(main / "car_all.txt") == {"a": 1}
    assert _class_list(main / "traffic_light_holdout.txt") == {"b": -1}
    assert _lines(unpacked / "labelmap.txt") == classes
