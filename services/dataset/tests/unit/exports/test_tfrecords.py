"""The TFRecord export reads back with the `tfrecord` package into the images,
boxes, classes and masks it was made of, in frames its own writer would make."""

from __future__ import annotations

import hashlib
import io
import re
import struct
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import PIL.Image
import pytest
from tfrecord.reader import tfrecord_iterator, tfrecord_loader
from tfrecord.writer import TFRecordWriter

from labelmesh.dataset.exports.tfrecords import write_record
from labelmesh.testing.exports import (
    IMAGE_CLASSES,
    Sample,
    disc,
    export_sample,
    image_sample,
    mask_rle,
    png,
)
from labelmesh.v1.dataset_service_pb2 import ArchiveFormat, DatasetItem, ExportFormat
from labelmesh.v1.events_pb2 import DatasetVersion, DataType
from labelmesh.v1.geometry_pb2 import BoundingBox, Label, Mask, Point, Polygon

Corners = tuple[float, float, float, float]


def _records(path: Path) -> dict[str, dict[str, Any]]:
    """The split file's examples by source id, after checking every frame's CRCs."""
    assert [bytes(r) for r in tfrecord_iterator(str(path))] == _checked_frames(path)
    return {bytes(r["image/source_id"]).decode(): r for r in tfrecord_loader(str(path), None)}


def _checked_frames(path: Path) -> list[bytes]:
    """The records of a TFRecord file, each frame's CRCs checked with the
    `tfrecord` package's own masking: its reader reads them but checks none."""
    data, records, offset = path.read_bytes(), [], 0
    while offset < len(data):
        header = data[offset : offset + 8]
        (length,) = struct.unpack("<Q", header)
        record = data[offset + 12 : offset + 12 + length]
        if data[offset + 8 : offset + 12] != TFRecordWriter.masked_crc(header):
            raise ValueError(f"record {len(records)}: its length's CRC does not match")
        if data[offset + 12 + length : offset + 16 + length] != TFRecordWriter.masked_crc(record):
            raise ValueError(f"record {len(records)}: its data's CRC does not match")
        records.append(record)
        offset += 16 + length
    return records


def _listed(value: Any) -> list[Any]:
    # The reader gives a lone bytes value as itself, several as an array.
    return [value] if isinstance(value, bytes) else list(value)


def _objects(item: DatasetItem) -> list[tuple[str, Corners]]:
    """The stored objects of a sample item and their extents in pixels."""
    objects: list[tuple[str, Corners]] = []
    for label in item.labels:
        kind = label.WhichOneof("kind")
        if kind == "bounding_box":
            b = label.bounding_box
            objects.append((b.label, (b.x, b.y, b.x + b.width, b.y + b.height)))
        elif kind == "polygon":
            xs = [p.x for p in label.polygon.points]
            ys = [p.y for p in label.polygon.points]
            objects.append((label.polygon.label, (min(xs), min(ys), max(xs), max(ys))))
        elif kind == "mask":
            rows, cols = np.nonzero(disc(48, 40, 20, 18, 9))
            extent = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
            objects.append((label.mask.label, tuple(float(v) for v in extent)))
    return objects


def _assert_boxes(record: dict[str, Any], expected: list[tuple[str, Corners]]) -> None:
    width, height = int(record["image/width"][0]), int(record["image/height"][0])
    texts = [t.decode() for t in _listed(record["image/object/class/text"])]
    assert texts == [name for name, _ in expected]
    labels = record["image/object/class/label"].tolist()
    assert labels == [IMAGE_CLASSES.index(name) + 1 for name, _ in expected]
    for n, key in enumerate(("xmin", "ymin", "xmax", "ymax")):
        read = record[f"image/object/bbox/{key}"]
        side = width if key[0] == "x" else height
        stored = np.array([corners[n] for _, corners in expected])
        # Stored as float32: exactly the rounded quotient, so within 2**-24 of a side in pixels.
        np.testing.assert_array_equal(read, (stored / side).astype(np.float32))
        np.testing.assert_allclose(read * side, stored, rtol=0, atol=side * 2**-24)


def _label_map(root: Path) -> dict[int, str]:
    text = (root / "label_map.pbtxt").read_text()
    pattern = r"item \{\n  id: (\d+)\n  name: '([^']*)'\n\}\n"
    assert re.fullmatch(f"({pattern})*", text)
    return {int(n): name for n, name in re.findall(pattern, text)}


def _png_mask(data: bytes) -> np.ndarray[Any, Any]:
    with PIL.Image.open(io.BytesIO(data)) as image:
        return np.asarray(image)


def _assert_centres_inside(mask: np.ndarray[Any, Any], points: Any) -> None:
    """The mask holds the pixels whose centre is inside the polygon, by OpenCV."""
    polygon = np.array([(p.x, p.y) for p in points], np.float32)
    for (y, x), value in np.ndenumerate(mask):
        distance = cv2.pointPolygonTest(polygon, (x + 0.5, y + 0.5), True)
        if distance > 0:
            assert value == 1, (x, y)
        elif distance < 0:
            assert value == 0, (x, y)
    assert mask.max() == 1


def test_records_read_back_with_their_images_boxes_classes_and_masks(tmp_path: Path) -> None:
    sample = image_sample()
    root = export_sample(sample, ExportFormat.EXPORT_FORMAT_TFRECORD, tmp_path)

    assert sorted(p.name for p in root.iterdir()) == [
        "label_map.pbtxt",
        "train.tfrecord",
        "val.tfrecord",
    ]
    assert _label_map(root) == {1: "cat", 2: "dog", 3: "person"}
    for split in ("train", "val"):
        records = _records(root / f"{split}.tfrecord")
        items = [item for item in sample.items if item.split == split]
        assert sorted(records) == sorted(item.item_id for item in items)
        for item in items:
            record = records[item.item_id]
            media = sample.media[item.item_id]
            with PIL.Image.open(io.BytesIO(media)) as image:
                size = image.size
            assert (int(record["image/width"][0]), int(record["image/height"][0])) == size
            assert record["image/encoded"] == media
            assert record["image/format"] == b"png"
            assert record["image/filename"] == f"{item.item_id}.png".encode()
            assert record["image/key/sha256"] == hashlib.sha256(media).hexdigest().encode()
            # Classifications and keypoints are left out.
            _assert_boxes(record, _objects(item))

    train = _records(root / "train.tfrecord")
    assert "image/object/mask" not in train["img-0"]
    polygon_mask, disc_mask = (
        _png_mask(m) for m in _listed(_records(root / "val.tfrecord")["img-1"]["image/object/mask"])
    )
    np.testing.assert_array_equal(disc_mask, disc(48, 40, 20, 18, 9))
    _assert_centres_inside(polygon_mask, sample.items[1].labels[0].polygon.points)


def test_masks_cover_every_object_on_the_image_grid(tmp_path: Path) -> None:
    half = np.zeros((5, 10), np.uint8)
    half[1:3, 4:9] = 1
    outline = [(1, 0.5), (9.5, 0.5), (12, 4.5), (9.5, 8.5), (4, 6.5), (1, 8.5)]
    item = DatasetItem(
        item_id="grid",
        data_type=DataType.DATA_TYPE_IMAGE,
        content_type="image/png",
        labels=[
            Label(bounding_box=BoundingBox(label="dog", x=2, y=1, width=5, height=3)),
            Label(mask=Mask(label="cat", width=10, height=5, counts=mask_rle(half))),
            # Vertices on rows of pixel centres, where a crossing is easily counted twice.
            Label(polygon=Polygon(label="person", points=[Point(x=x, y=y) for x, y in outline])),
        ],
    )
    version = DatasetVersion(version_id="v1", classes=IMAGE_CLASSES)
    sample = Sample([item], {"grid": png(20, 10)}, version)
    root = export_sample(
        sample,
        ExportFormat.EXPORT_FORMAT_TFRECORD,
        tmp_path,
        archive=ArchiveFormat.ARCHIVE_FORMAT_TAR,
    )

    record = _records(root / "all.tfrecord")["grid"]
    _assert_boxes(
        record, [("dog", (2, 1, 7, 4)), ("cat", (8, 2, 18, 6)), ("person", (1, 0.5, 12, 8.5))]
    )
    box_mask, cat_mask, polygon_mask = (_png_mask(m) for m in _listed(record["image/object/mask"]))
    _assert_centres_inside(polygon_mask, item.labels[2].polygon.points)
    expected_box = np.zeros((10, 20), np.uint8)
    expected_box[1:4, 2:7] = 1
    np.testing.assert_array_equal(box_mask, expected_box)
    # A mask of half the image's size is scaled up to it, a pixel to two by two.
    np.testing.assert_array_equal(cat_mask, half.repeat(2, axis=0).repeat(2, axis=1))
    assert record["image/format"] == b"png"
    assert record["image/filename"] == b"grid.png"


def test_an_unsplit_version_goes_into_one_file(tmp_path: Path) -> None:
    sample = image_sample(splits=False)
    root = export_sample(
        sample,
        ExportFormat.EXPORT_FORMAT_TFRECORD,
        tmp_path,
        include_media=False,
        archive=ArchiveFormat.ARCHIVE_FORMAT_TAR,
    )

    records = _records(root / "all.tfrecord")
    assert list(records) == [item.item_id for item in sample.items]
    for item in sample.items:
        assert records[item.item_id]["image/encoded"] == sample.media[item.item_id]
        _assert_boxes(records[item.item_id], _objects(item))


@pytest.mark.parametrize(
    "datum",
    [
        {},
        {"image/source_id": (b"x", "byte")},
        {"a": (list(range(200)), "int"), "b": ([0.25, 1e-9], "float"), "c": (b"\0" * 300, "byte")},
    ],
)
def test_frames_equal_those_of_the_tfrecord_writer(tmp_path: Path, datum: dict[str, Any]) -> None:
    serialized = TFRecordWriter.serialize_tf_example(datum)
    assert TFRecordWriter.serialize_tf_example(datum) == serialized
    reference = TFRecordWriter(str(tmp_path / "reference.tfrecord"))
    reference.write(datum)
    reference.close()

    ours = io.BytesIO()
    write_record(ours, serialized)
    assert ours.getvalue() == (tmp_path / "reference.tfrecord").read_bytes()


# The reader leaves its file open when it raises.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_flipped_byte_fails_the_crc_check_and_a_bad_length_the_reader(tmp_path: Path) -> None:
    root = export_sample(image_sample(), ExportFormat.EXPORT_FORMAT_TFRECORD, tmp_path)
    path = root / "val.tfrecord"
    data = bytearray(path.read_bytes())
    assert len(_checked_frames(path)) == 1

    data[40] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="record 0: its data's CRC"):
        _checked_frames(path)

    data[40] ^= 0x01
    (length,) = struct.unpack("<Q", data[:8])
    data[:8] = struct.pack("<Q", length + 5)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="record 0: its length's CRC"):
        _checked_frames(path)
    with pytest.raises(RuntimeError, match="Failed to read the record"):
        list(tfrecord_iterator(str(path)))


def test_the_same_items_give_the_same_archive(tmp_path: Path) -> None:
    for run in ("a", "b"):
        export_sample(image_sample(), ExportFormat.EXPORT_FORMAT_TFRECORD, tmp_path / run)
    assert (tmp_path / "a/export.zip").read_bytes() == (tmp_path / "b/export.zip").read_bytes()
