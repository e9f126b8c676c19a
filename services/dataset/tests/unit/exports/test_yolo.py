"""The Ultralytics YOLO exports read back, with globox, PyYAML and OpenCV, into
the boxes, polygons, masks, keypoints and classes they were made of."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import globox
import numpy as np
import pytest
import yaml

from labelmesh.dataset.exports.archive import ZipArchive
from labelmesh.dataset.exports.base import ExportContext
from labelmesh.dataset.exports.yolo import Writer
from labelmesh.testing.exports import (
    IMAGE_CLASSES,
    PERSON_SKELETON,
    Sample,
    disc,
    export_sample,
    image_sample,
    png,
)
from labelmesh.v1.dataset_service_pb2 import ArchiveFormat, DatasetItem, ExportFormat
from labelmesh.v1.events_pb2 import DatasetVersion, DataType, KeypointSkeleton
from labelmesh.v1.geometry_pb2 import (
    BoundingBox,
    Classification,
    Keypoint,
    Keypoints,
    Label,
    Point,
)

# 10 decimals hold a normalised value within 5e-11, far inside this for images of 64 pixels.
PIXELS = 1e-6


def _data_yaml(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((root / "data.yaml").read_text())
    return data


def _label_lines(root: Path, split: str, item_id: str) -> list[list[float]]:
    text = (root / "labels" / split / f"{item_id}.txt").read_text()
    return [[float(v) for v in line.split()] for line in text.splitlines()]


def _boxes(item: DatasetItem) -> list[tuple[str, tuple[float, float, float, float]]]:
    return [
        (b.label, (b.x, b.y, b.x + b.width, b.y + b.height))
        for b in (label.bounding_box for label in item.labels if label.HasField("bounding_box"))
    ]


def _assert_close(actual: Any, expected: Any) -> None:
    np.testing.assert_allclose(actual, expected, rtol=0, atol=PIXELS)


def _image_item(item_id: str, split: str, labels: list[Label]) -> DatasetItem:
    return DatasetItem(
        item_id=item_id,
        data_type=DataType.DATA_TYPE_IMAGE,
        content_type="image/png",
        filename=f"{item_id}.png",
        split=split,
        labels=labels,
    )


def _version(skeletons: list[KeypointSkeleton] | None = None) -> DatasetVersion:
    version = DatasetVersion(version_id="v1", classes=IMAGE_CLASSES, skeletons=skeletons or [])
    version.split.ratios.update({"train": 1.0})
    return version


def test_detect_boxes_read_back_with_globox(tmp_path: Path) -> None:
    sample = image_sample()
    root = export_sample(sample, ExportFormat.EXPORT_FORMAT_YOLO_DETECT, tmp_path)

    data = _data_yaml(root)
    assert data == {
        "train": "images/train",
        "val": "images/val",
        "names": {0: "cat", 1: "dog", 2: "person"},
    }
    for split in ("train", "val"):
        annotations = globox.AnnotationSet.from_yolo_v5(
            folder=root / "labels" / split,
            image_folder=root / "images" / split,
            image_extension=".png",
        )
        items = [item for item in sample.items if item.split == split]
        assert sorted(annotations.image_ids) == sorted(f"{i.item_id}.png" for i in items)
        for item in items:
            read = annotations[f"{item.item_id}.png"].boxes
            # img-1 has a polygon and a mask only: detect takes boxes alone.
            assert len(read) == len(_boxes(item))
            for box, (name, corners) in zip(read, _boxes(item), strict=True):
                assert data["names"][int(box.label)] == name
                assert box.ltrb == pytest.approx(corners, abs=PIXELS)
            media = root / "images" / split / f"{item.item_id}.png"
            assert media.read_bytes() == sample.media[item.item_id]


def test_detect_writes_images_without_include_media_and_trains_unsplit_on_all(
    tmp_path: Path,
) -> None:
    sample = image_sample(splits=False)
    root = export_sample(
        sample,
        ExportFormat.EXPORT_FORMAT_YOLO_DETECT,
        tmp_path,
        include_media=False,
        archive=ArchiveFormat.ARCHIVE_FORMAT_TAR,
    )

    data = _data_yaml(root)
    assert (data["train"], data["val"]) == ("images/all", "images/all")
    annotations = globox.AnnotationSet.from_yolo_v5(
        folder=root / "labels" / "all", image_folder=root / "images" / "all", image_extension=".png"
    )
    for item in sample.items:
        assert (root / "images/all" / f"{item.item_id}.png").read_bytes() == sample.media[
            item.item_id
        ]
        read = [
            (data["names"][int(b.label)], b.ltrb) for b in annotations[f"{item.item_id}.png"].boxes
        ]
        assert [name for name, _ in read] == [name for name, _ in _boxes(item)]
        for (_, ltrb), (_, corners) in zip(read, _boxes(item), strict=True):
            assert ltrb == pytest.approx(corners, abs=PIXELS)


def test_boxes_are_clamped_to_the_image_and_left_out_when_outside(tmp_path: Path) -> None:
    item = _image_item(
        "edge",
        "train",
        [
            Label(bounding_box=BoundingBox(label="dog", x=-5, y=20, width=20, height=20)),
            Label(bounding_box=BoundingBox(label="cat", x=50, y=2, width=5, height=5)),
            Label(bounding_box=BoundingBox(label="bird", x=1, y=1, width=5, height=5)),
        ],
    )
    sample = Sample([item], {"edge": png(40, 30)}, _version())
    root = export_sample(sample, ExportFormat.EXPORT_FORMAT_YOLO_DETECT, tmp_path)

    annotations = globox.AnnotationSet.from_yolo_v5(
        folder=root / "labels/train", image_folder=root / "images/train", image_extension=".png"
    )
    [box] = annotations["edge.png"].boxes
    assert box.label == "1"
    assert box.ltrb == pytest.approx((0, 20, 15, 30), abs=PIXELS)


def test_segment_polygons_read_back_and_masks_are_traced(tmp_path: Path) -> None:
    sample = image_sample()
    root = export_sample(sample, ExportFormat.EXPORT_FORMAT_YOLO_SEGMENT, tmp_path)
    width, height = 48, 40
    mask = disc(width, height, 20, 18, 9)
    rows, cols = np.nonzero(mask)

    annotations = globox.AnnotationSet.from_yolo_seg(
        folder=root / "labels/val",
        image_folder=root / "images/val",
        relative=True,
        image_extension=".png",
    )
    polygon_box, mask_box = annotations["img-1.png"].boxes
    assert (polygon_box.label, mask_box.label) == ("1", "0")
    assert polygon_box.ltrb == pytest.approx((2, 2, 20, 18), abs=PIXELS)
    # The traced outline runs through the centres of the mask's edge pixels.
    mask_extent = (cols.min() + 0.5, rows.min() + 0.5, cols.max() + 0.5, rows.max() + 0.5)
    assert mask_box.ltrb == pytest.approx(mask_extent, abs=PIXELS)

    polygon_line, mask_line = _label_lines(root, "val", "img-1")
    polygon = np.array(polygon_line[1:]).reshape(-1, 2) * (width, height)
    stored = [(p.x, p.y) for p in sample.items[1].labels[0].polygon.points]
    _assert_close(polygon, stored)

    outline = np.array(mask_line[1:]).reshape(-1, 2) * (width, height)
    fill = np.zeros_like(mask)
    cv2.fillPoly(fill, [np.rint(outline - 0.5).astype(np.int32)], 1)
    assert fill[mask == 1].all()
    # Not 1.0 by construction: a polygon through pixel centres encloses half a
    # pixel less than the mask all along its edge (228 of 253 pixels here); the
    # fill only gets the edge pixels back because fillPoly takes in its outline.
    assert (fill & mask).sum() / (fill | mask).sum() > 0.9
    assert cv2.contourArea(outline.astype(np.float32)) < mask.sum()

    assert _label_lines(root, "train", "img-0") == []
    assert (root / "images/val/img-1.png").read_bytes() == sample.media["img-1"]


def test_pose_keypoints_read_back_in_skeleton_order(tmp_path: Path) -> None:
    sample = image_sample()
    root = export_sample(sample, ExportFormat.EXPORT_FORMAT_YOLO_POSE, tmp_path)

    data = _data_yaml(root)
    assert data["kpt_shape"] == [3, 3]
    # head stays, left_hand and right_hand swap.
    assert data["flip_idx"] == [0, 2, 1]
    [line] = _label_lines(root, "train", "img-2")
    width = height = 40
    assert data["names"][int(line[0])] == "person"
    cx, cy, w, h = line[1:5]
    box = ((cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height)
    assert box == pytest.approx((10, 5, 30, 35), abs=PIXELS)
    points = np.array(line[5:]).reshape(-1, 3) * (width, height, 1)
    # right_hand's visibility is 0: hidden (1), its position kept.
    _assert_close(points, [[20, 8, 2], [12, 20, 2], [28, 21, 1]])
    assert _label_lines(root, "train", "img-0") == []


def test_pose_without_a_box_takes_the_points_extent_and_pads_short_skeletons(
    tmp_path: Path,
) -> None:
    cat = KeypointSkeleton(label="cat", keypoints=["nose", "tail"])
    item = _image_item(
        "kp",
        "train",
        [
            Label(
                keypoints=Keypoints(
                    label="cat",
                    points=[
                        Keypoint(name="nose", position=Point(x=5, y=5), visibility=1),
                        Keypoint(name="tail", position=Point(x=15, y=9), visibility=0.3),
                    ],
                )
            ),
            Label(
                keypoints=Keypoints(
                    label="person",
                    points=[
                        Keypoint(name="head", position=Point(x=8, y=4), visibility=0.9),
                        Keypoint(name="left_hand", position=Point(x=80, y=4), visibility=1),
                    ],
                )
            ),
        ],
    )
    sample = Sample([item], {"kp": png(20, 10)}, _version([PERSON_SKELETON, cat]))
    root = export_sample(sample, ExportFormat.EXPORT_FORMAT_YOLO_POSE, tmp_path)

    data = _data_yaml(root)
    assert data["kpt_shape"] == [3, 3]
    # The skeletons differ, so no single mirroring fits them.
    assert "flip_idx" not in data
    cat_line, person_line = _label_lines(root, "train", "kp")
    scale = (20, 10, 20, 10)
    assert cat_line[0] == IMAGE_CLASSES.index("cat")
    assert (np.array(cat_line[1:5]) * scale).tolist() == pytest.approx([10, 7, 10, 4], abs=PIXELS)
    cat_points = np.array(cat_line[5:]).reshape(-1, 3) * (20, 10, 1)
    _assert_close(cat_points, [[5, 5, 2], [15, 9, 1], [0, 0, 0]])
    # A hand outside the image is written as missing, like the other hand.
    assert person_line[0] == IMAGE_CLASSES.index("person")
    assert (np.array(person_line[1:5]) * scale).tolist() == pytest.approx([8, 4, 0, 0], abs=PIXELS)
    person_points = np.array(person_line[5:]).reshape(-1, 3) * (20, 10, 1)
    _assert_close(person_points, [[8, 4, 2], [0, 0, 0], [0, 0, 0]])


def test_classify_puts_each_image_under_each_of_its_classes(tmp_path: Path) -> None:
    sample = image_sample()
    both = _image_item(
        "both",
        "val",
        [
            Label(classification=Classification(label=name))
            for name in ("dog", "cat", "dog", "bird")
        ],
    )
    sample.items.append(both)
    sample.media["both"] = png(8, 8, seed=9)
    root = export_sample(
        sample,
        ExportFormat.EXPORT_FORMAT_YOLO_CLASSIFY,
        tmp_path,
        archive=ArchiveFormat.ARCHIVE_FORMAT_TAR,
    )

    files = {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert files == {
        "train/cat/img-0.png": sample.media["img-0"],
        "val/dog/both.png": sample.media["both"],
        "val/cat/both.png": sample.media["both"],
    }


def test_the_same_items_give_the_same_archive(tmp_path: Path) -> None:
    for run in ("a", "b"):
        export_sample(image_sample(), ExportFormat.EXPORT_FORMAT_YOLO_SEGMENT, tmp_path / run)
    assert (tmp_path / "a/export.zip").read_bytes() == (tmp_path / "b/export.zip").read_bytes()


def test_an_unknown_task_is_refused(tmp_path: Path) -> None:
    context = ExportContext(_version(), ZipArchive(tmp_path / "x.zip"), tmp_path, True)
    with pytest.raises(ValueError, match="'obb'"):
        Writer(context, "obb")
