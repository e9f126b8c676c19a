"""COCO exports, read back with pycocotools."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import pytest
from numpy.typing import NDArray
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from labelmesh.dataset.exports.base import ExportFailed
from labelmesh.testing.exports import (
    IMAGE_CLASSES,
    PERSON_SKELETON,
    Sample,
    disc,
    export_sample,
    image_sample,
    mask_rle,
    png,
    text_sample,
)
from labelmesh.v1.dataset_service_pb2 import ArchiveFormat, DatasetItem, ExportFormat
from labelmesh.v1.events_pb2 import DatasetVersion, DataType, KeypointSkeleton
from labelmesh.v1.geometry_pb2 import (
    BoundingBox,
    Classification,
    Keypoint,
    Keypoints,
    Label,
    Mask,
    Point,
    Polygon,
)

COCO_FORMAT = ExportFormat.EXPORT_FORMAT_COCO


def _load(unpacked: Path, split: str) -> COCO:
    return COCO(str(unpacked / "annotations" / f"instances_{split}.json"))


def _size(data: bytes) -> tuple[int, int]:
    with PIL.Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    return width, height


def _row_major(mask: Mask) -> NDArray[np.uint8]:
    values = np.arange(len(mask.counts)) % 2
    return np.repeat(values, list(mask.counts)).reshape(mask.height, mask.width).astype(np.uint8)


def _rasterised(points: list[float], height: int, width: int) -> NDArray[np.uint8]:
    rles = mask_utils.frPyObjects([points], height, width)
    decoded: NDArray[np.uint8] = mask_utils.decode(mask_utils.merge(rles))
    return decoded


def _shoelace(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    return abs(sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n))) / 2


def _by_item(coco: COCO) -> dict[str, dict[str, Any]]:
    return {image["labelmesh_item_id"]: image for image in coco.dataset["images"]}


def _annotations(coco: COCO, image: dict[str, Any]) -> list[dict[str, Any]]:
    anns: list[dict[str, Any]] = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
    return anns


def _category(coco: COCO, ann: dict[str, Any]) -> str:
    name: str = coco.loadCats([ann["category_id"]])[0]["name"]
    return name


def _check_item(coco: COCO, item: DatasetItem, image: dict[str, Any]) -> None:
    """Every label of the sample item, found again in the image's annotations."""
    anns = _annotations(coco, image)
    used: set[int] = set()
    height, width = image["height"], image["width"]
    for label in item.labels:
        kind = label.WhichOneof("kind")
        if kind == "bounding_box":
            box = label.bounding_box
            expected = [box.x, box.y, box.width, box.height]
            ann = next(a for a in anns if a["bbox"] == expected and a["id"] not in used)
            assert _category(coco, ann) == box.label
            assert ann["area"] == pytest.approx(box.width * box.height, abs=1e-6)
            assert ann["iscrowd"] == 0
        elif kind == "polygon":
            polygon = label.polygon
            ann = next(a for a in anns if isinstance(a["segmentation"], list) and a["segmentation"])
            points = [v for p in polygon.points for v in (p.x, p.y)]
            assert ann["segmentation"] == [points]
            assert np.array_equal(coco.annToMask(ann), _rasterised(points, height, width))
            xs, ys = [p.x for p in polygon.points], [p.y for p in polygon.points]
            bbox = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
            assert ann["bbox"] == pytest.approx(bbox, abs=1e-6)
            assert ann["area"] == pytest.approx(_shoelace(xs, ys), abs=1e-6)
            assert _category(coco, ann) == polygon.label
        elif kind == "mask":
            ann = next(a for a in anns if isinstance(a["segmentation"], dict))
            stored = _row_major(label.mask)
            assert np.array_equal(coco.annToMask(ann), stored)
            rows, cols = np.flatnonzero(stored.any(axis=1)), np.flatnonzero(stored.any(axis=0))
            bbox = [cols[0], rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1]
            assert ann["bbox"] == bbox
            assert ann["bbox"] == mask_utils.toBbox(coco.annToRLE(ann)).tolist()
            assert ann["area"] == int(stored.sum())
            assert _category(coco, ann) == label.mask.label
        else:
            continue
        used.add(ann["id"])
    assert len(anns) == len(used)


def test_every_geometry_reads_back_per_split(tmp_path: Path) -> None:
    sample = image_sample()
    unpacked = export_sample(sample, COCO_FORMAT, tmp_path / "export")

    assert sorted(p.name for p in (unpacked / "annotations").iterdir()) == [
        "instances_train.json",
        "instances_val.json",
    ]
    image_ids: list[int] = []
    for split in ("train", "val"):
        coco = _load(unpacked, split)
        cats = coco.loadCats(sorted(coco.getCatIds()))
        assert [c["name"] for c in cats] == IMAGE_CLASSES
        assert [c["id"] for c in cats] == [1, 2, 3]
        assert cats[2]["keypoints"] == list(PERSON_SKELETON.keypoints)
        assert cats[2]["skeleton"] == [[1, 2], [1, 3]]
        images = _by_item(coco)
        assert sorted(images) == sorted(i.item_id for i in sample.items if i.split == split)
        for item in (i for i in sample.items if i.split == split):
            image = images[item.item_id]
            image_ids.append(image["id"])
            data = sample.media[item.item_id]
            assert (image["width"], image["height"]) == _size(data)
            assert image["file_name"] == f"{item.item_id}.png"
            assert (unpacked / "images" / split / image["file_name"]).read_bytes() == data
            _check_item(coco, item, image)
        names = sorted(image["file_name"] for image in images.values())
        assert sorted(p.name for p in (unpacked / "images" / split).iterdir()) == names
    assert sorted(image_ids) == [1, 2, 3]

    train = _load(unpacked, "train")
    first = _by_item(train)["img-0"]
    assert [train.loadCats([i])[0]["name"] for i in first["category_ids"]] == ["cat"]
    person = _annotations(train, _by_item(train)["img-2"])
    assert len(person) == 1
    assert person[0]["bbox"] == [10, 5, 20, 30]
    assert person[0]["keypoints"] == [20, 8, 2, 12, 20, 2, 28, 21, 1]
    assert person[0]["num_keypoints"] == 3


def test_unsplit_in_a_tar_without_media_and_the_same_bytes_twice(tmp_path: Path) -> None:
    sample = image_sample(splits=False)
    sample.items.insert(1, text_sample().items[0])
    exports = [
        export_sample(
            sample,
            COCO_FORMAT,
            tmp_path / name,
            include_media=False,
            archive=ArchiveFormat.ARCHIVE_FORMAT_TAR,
        )
        for name in ("one", "two")
    ]
    unpacked = exports[0]

    assert [p.name for p in unpacked.iterdir()] == ["annotations"]
    path = unpacked / "annotations" / "instances_all.json"
    assert path.read_bytes() == (exports[1] / "annotations" / "instances_all.json").read_bytes()
    coco = _load(unpacked, "all")
    images = _by_item(coco)
    assert list(images) == ["img-0", "img-1", "img-2"]
    assert [images[i]["id"] for i in images] == [1, 2, 3]
    for item in sample.items[:1] + sample.items[2:]:
        image = images[item.item_id]
        assert (image["width"], image["height"]) == _size(sample.media[item.item_id])
        _check_item(coco, item, image)


def _image_item(item_id: str, labels: list[Label], split: str = "") -> DatasetItem:
    return DatasetItem(
        item_id=item_id,
        data_type=DataType.DATA_TYPE_IMAGE,
        content_type="image/png",
        split=split,
        labels=labels,
    )


def test_keypoints_masks_and_labels_left_out(tmp_path: Path) -> None:
    hand = KeypointSkeleton(label="hand", keypoints=["wrist", "thumb", "index"])
    version = DatasetVersion(
        version_id="v" * 64,
        classes=["hand", "tail", "blob"],
        skeletons=[hand, KeypointSkeleton(label="unknown", keypoints=["a"])],
    )
    version.split.ratios.update({"train": 1.0})
    corner = np.zeros((10, 12), dtype=np.uint8)
    corner[:4, :3] = 1
    corner[9, 11] = 1  # cut off: the image is 8 x 10
    points = [
        Keypoint(name="wrist", position=Point(x=3.5, y=4), visibility=0.5),
        Keypoint(name="index", position=Point(x=9, y=2.25), visibility=0.9),
        Keypoint(name="elbow", position=Point(x=1, y=1), visibility=1),
    ]
    items = [
        _image_item(
            "a",
            [
                Label(keypoints=Keypoints(label="hand", points=points)),
                Label(bounding_box=BoundingBox(label="hand", x=0, y=0, width=5, height=5)),
                # Holds the points, but is of another class.
                Label(bounding_box=BoundingBox(label="tail", x=0, y=0, width=10, height=8)),
                Label(keypoints=Keypoints(label="tail", points=points)),  # no skeleton
                Label(keypoints=Keypoints(label="hand", points=[])),  # no labelled point
                Label(mask=Mask(label="blob", width=12, height=10, counts=mask_rle(corner))),
                Label(mask=Mask(label="blob", width=4, height=2, counts=[8])),  # empty
                Label(bounding_box=BoundingBox(label="horse", x=1, y=1, width=2, height=2)),
                Label(polygon=Polygon(label="blob", points=[Point(x=1, y=1), Point(x=3, y=3)])),
                Label(classification=Classification(label="tail")),
                Label(classification=Classification(label="blob")),
                Label(classification=Classification(label="horse")),
            ],
            split="train",
        ),
        _image_item(
            "b",
            [Label(bounding_box=BoundingBox(label="tail", x=1, y=2, width=3, height=4))],
            "test",
        ),
    ]
    sample = Sample(items, {"a": png(10, 8), "b": png(6, 6, seed=1)}, version)
    unpacked = export_sample(sample, COCO_FORMAT, tmp_path / "export")

    coco = _load(unpacked, "train")
    hand_category = coco.loadCats([1])[0]
    assert hand_category["keypoints"] == ["wrist", "thumb", "index"]
    assert hand_category["skeleton"] == []
    assert "keypoints" not in coco.loadCats([2])[0]
    image = _by_item(coco)["a"]
    assert image["category_ids"] == [2, 3]
    anns = _annotations(coco, image)
    assert [_category(coco, a) for a in anns] == ["hand", "tail", "blob", "hand"]
    box, tail, blob, keypoints = anns
    assert "keypoints" not in tail
    # The box does not hold the index point, so the keypoints stand alone.
    assert box["bbox"] == [0, 0, 5, 5]
    assert box["keypoints"] == [0] * 9
    assert box["num_keypoints"] == 0
    assert keypoints["keypoints"] == [3.5, 4, 1, 0, 0, 0, 9, 2.25, 2]
    assert keypoints["num_keypoints"] == 2
    assert keypoints["bbox"] == [3.5, 2.25, 5.5, 1.75]
    assert keypoints["area"] == pytest.approx(5.5 * 1.75)
    expected = corner[:8, :10]
    assert blob["segmentation"]["size"] == [8, 10]
    assert blob["segmentation"]["counts"][0] == 0
    assert np.array_equal(coco.annToMask(blob), expected)
    assert blob["area"] == int(expected.sum()) == 12
    assert blob["bbox"] == [0, 0, 3, 4]

    test = _load(unpacked, "test")
    assert list(_by_item(test)) == ["b"]
    assert [a["bbox"] for a in test.dataset["annotations"]] == [[1, 2, 3, 4]]


def test_a_padded_mask_and_a_mask_whose_runs_do_not_cover_it(tmp_path: Path) -> None:
    version = DatasetVersion(version_id="v" * 64, classes=["blob"])
    small = disc(6, 5, 3, 2, 2)
    items = [
        _image_item(
            "a", [Label(mask=Mask(label="blob", width=6, height=5, counts=mask_rle(small)))]
        )
    ]
    unpacked = export_sample(Sample(items, {"a": png(9, 7)}, version), COCO_FORMAT, tmp_path / "ok")

    coco = _load(unpacked, "all")
    expected = np.zeros((7, 9), dtype=np.uint8)
    expected[:5, :6] = small
    assert np.array_equal(coco.annToMask(coco.dataset["annotations"][0]), expected)

    bad = [_image_item("bad", [Label(mask=Mask(label="blob", width=6, height=5, counts=[3, 4]))])]
    with pytest.raises(ExportFailed, match="item bad: a 'blob' mask's runs cover 7 pixels"):
        export_sample(Sample(bad, {"bad": png(9, 7)}, version), COCO_FORMAT, tmp_path / "bad")


def test_the_split_file_is_one_json_document(tmp_path: Path) -> None:
    sample = image_sample()
    unpacked = export_sample(sample, COCO_FORMAT, tmp_path / "export", chunk=1)
    document = json.loads((unpacked / "annotations" / "instances_val.json").read_text())
    assert list(document) == ["info", "licenses", "categories", "images", "annotations"]
    assert document["info"]["version"] == sample.version.version_id
    assert [a["image_id"] for a in document["annotations"]] == [2, 2]
