"""TFRecord files of `tf.train.Example` records in the layout of the
TensorFlow Object Detection API.

Layout: `<split>.tfrecord` for every split of the version (empty when no
item is in it) and `label_map.pbtxt`, `item { id: N name: 'x' }` per class
with ids from 1 in the order of the version's classes.

One record per image, with the features the OD API's decoder reads:
image/height, image/width, image/filename (the archive name of the image:
item id and extension), image/source_id (the item id), image/encoded (the
bytes as stored), image/format (png, jpeg, ... from the content type),
image/key/sha256, and per object image/object/bbox/xmin, xmax, ymin, ymax
(float32, divided by the image's width or height), image/object/class/text
and image/object/class/label (1-based ids).

Objects are the bounding boxes, polygons (by their extent) and masks (by the
extent of their set pixels), clamped to the image; one left empty is left
out. When an image has a polygon or a mask, image/object/mask holds one PNG
per object (8-bit, 1 inside, 0 outside, the size of the image), as the OD
API's PNG mask option reads them, aligned with the boxes: masks as stored
(resized to the image, nearest neighbour, when their size differs),
polygons and boxes as the pixels whose centres they hold.

Each record is framed as TFRecord readers expect: the data's length (uint64,
little endian), the masked CRC32C of those 8 bytes, the data, the masked
CRC32C of the data. The archive always carries the images, inside the
records. Items that are not images, images whose pixels were not read,
labels of other kinds, and labels of a class outside the version's are left
out.
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import crc32c
import numpy as np
import PIL.Image
from numpy.typing import NDArray
from tfrecord import example_pb2

from labelmesh.dataset.exports.base import ExportContext, Media, media_name, split_of
from labelmesh.dataset.exports.masks import mask_bits
from labelmesh.v1.dataset_service_pb2 import DatasetItem
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import Label

LABEL_MAP = "label_map.pbtxt"
_CRC_MASK_DELTA = 0xA282EAD8
_UINT32 = 0xFFFFFFFF


class Writer:
    def __init__(self, context: ExportContext) -> None:
        self._context = context
        self._ids = {name: n + 1 for n, name in enumerate(context.classes)}
        self._files: dict[str, BinaryIO] = {}
        for split in context.splits:
            self._file(split)

    def add(self, item: DatasetItem, image: Media | None) -> None:
        if image is None or item.data_type != DataType.DATA_TYPE_IMAGE:
            return
        write_record(self._file(split_of(item)), example(item, image, self._ids))

    def finish(self) -> None:
        for split, file in self._files.items():
            file.close()
            self._context.archive.write_file(f"{split}.tfrecord", self._path(split))
        self._context.archive.write(LABEL_MAP, label_map(self._context.classes).encode())

    def _file(self, split: str) -> BinaryIO:
        file = self._files.get(split)
        if file is None:
            file = self._files[split] = self._path(split).open("wb")
        return file

    def _path(self, split: str) -> Path:
        return self._context.workdir / f"{split}.tfrecord"


def write_record(file: BinaryIO, data: bytes) -> None:
    """Append one TFRecord record holding `data`."""
    length = struct.pack("<Q", len(data))
    file.write(length)
    file.write(masked_crc(length))
    file.write(data)
    file.write(masked_crc(data))


def masked_crc(data: bytes) -> bytes:
    """The CRC32C of `data`, rotated and offset as TFRecord masks it, little endian."""
    crc = crc32c.crc32c(data)
    return struct.pack("<I", (((crc >> 15) | (crc << 17)) + _CRC_MASK_DELTA) & _UINT32)


def label_map(classes: list[str]) -> str:
    return "".join(
        f"item {{\n  id: {n}\n  name: '{_quoted(name)}'\n}}\n" for n, name in enumerate(classes, 1)
    )


def example(item: DatasetItem, image: Media, ids: dict[str, int]) -> bytes:
    """The serialized tf.train.Example of an image item."""
    record = example_pb2.Example()
    features = record.features.feature
    name = media_name(item)
    features["image/height"].int64_list.value.append(image.height)
    features["image/width"].int64_list.value.append(image.width)
    features["image/filename"].bytes_list.value.append(name.encode())
    features["image/source_id"].bytes_list.value.append(item.item_id.encode())
    features["image/encoded"].bytes_list.value.append(image.data)
    features["image/format"].bytes_list.value.append(_image_format(item, name).encode())
    digest = hashlib.sha256(image.data).hexdigest().encode()
    features["image/key/sha256"].bytes_list.value.append(digest)

    xmin, xmax, ymin, ymax, texts, class_ids, masks = [], [], [], [], [], [], []
    for class_name, extent, region in _objects(item, image, ids):
        xmin.append(extent[0])
        ymin.append(extent[1])
        xmax.append(extent[2])
        ymax.append(extent[3])
        texts.append(class_name.encode())
        class_ids.append(ids[class_name])
        if region is not None:
            masks.append(_png(region))
    for key, floats in (("xmin", xmin), ("xmax", xmax), ("ymin", ymin), ("ymax", ymax)):
        _floats(features[f"image/object/bbox/{key}"], floats)
    _bytes(features["image/object/class/text"], texts)
    _ints(features["image/object/class/label"], class_ids)
    if masks:
        _bytes(features["image/object/mask"], masks)
    # Map order is otherwise not fixed; the same item must give the same bytes.
    serialized: bytes = record.SerializeToString(deterministic=True)
    return serialized


Extent = tuple[float, float, float, float]


def _objects(
    item: DatasetItem, image: Media, ids: dict[str, int]
) -> Iterator[tuple[str, Extent, NDArray[np.uint8] | None]]:
    """Each object's class, normalised extent and, when the image has shapes, its mask."""
    kinds = [label.WhichOneof("kind") for label in item.labels]
    with_masks = "mask" in kinds or "polygon" in kinds
    for label, kind in zip(item.labels, kinds, strict=True):
        class_name = _class_of(label, kind)
        if class_name is None or class_name not in ids:
            continue
        region: NDArray[np.uint8] | None
        if kind == "mask":
            region = _region(item, label, image)
            extent = _set_extent(region)
        else:
            extent = _clamped_extent(label, kind, image)
            region = _region(item, label, image) if with_masks and extent is not None else None
        if extent is not None:
            yield class_name, extent, region


def _class_of(label: Label, kind: str | None) -> str | None:
    """The class of an object label, None for other labels."""
    if kind == "bounding_box":
        return label.bounding_box.label
    if kind == "polygon" and len(label.polygon.points) >= 3:
        return label.polygon.label
    if kind == "mask":
        return label.mask.label
    return None


def _set_extent(bits: NDArray[np.uint8]) -> Extent | None:
    """The normalised xmin, ymin, xmax, ymax of the set pixels, None when none is."""
    rows, cols = np.nonzero(bits)
    if not len(rows):
        return None
    height, width = bits.shape
    return (
        float(cols.min()) / width,
        float(rows.min()) / height,
        float(cols.max() + 1) / width,
        float(rows.max() + 1) / height,
    )


def _clamped_extent(label: Label, kind: str | None, image: Media) -> Extent | None:
    """The normalised extent of a box or polygon within the image, None when empty."""
    if kind == "polygon":
        xs = [p.x for p in label.polygon.points]
        ys = [p.y for p in label.polygon.points]
        left, top, right, bottom = min(xs), min(ys), max(xs), max(ys)
    else:
        box = label.bounding_box
        left, top, right, bottom = box.x, box.y, box.x + box.width, box.y + box.height
    width, height = image.width, image.height
    x0 = _clamp(left, width) / width
    x1 = _clamp(right, width) / width
    y0 = _clamp(top, height) / height
    y1 = _clamp(bottom, height) / height
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _clamp(value: float, side: int) -> float:
    return 0.0 if value < 0 else side if value > side else value


def _region(item: DatasetItem, label: Label, image: Media) -> NDArray[np.uint8]:
    """The object's pixels on the image's grid, 1 inside."""
    kind = label.WhichOneof("kind")
    size = (image.width, image.height)
    bits = np.zeros((image.height, image.width), dtype=np.uint8)
    if kind == "mask":
        if not label.mask.width or not label.mask.height:
            return bits
        bits = mask_bits(item, label.mask)
        if bits.shape != (image.height, image.width):
            resized = PIL.Image.fromarray(bits).resize(size, PIL.Image.Resampling.NEAREST)
            bits = np.asarray(resized, dtype=np.uint8)
        return bits
    if kind == "polygon":
        _fill_polygon(bits, np.array([(p.x, p.y) for p in label.polygon.points]))
        return bits
    box = label.bounding_box
    left, right = (_first_centre_from(v) for v in (box.x, box.x + box.width))
    top, bottom = (_first_centre_from(v) for v in (box.y, box.y + box.height))
    bits[top:bottom, left:right] = 1
    return bits


def _fill_polygon(bits: NDArray[np.uint8], points: NDArray[np.float64]) -> None:
    """Set the pixels whose centre is inside the polygon (even-odd rule), a row at a time."""
    x0, y0 = points.T
    x1, y1 = np.roll(points, -1, axis=0).T
    first = _first_centre_from(float(y0.min()))
    last = min(_first_centre_from(float(y0.max())), bits.shape[0])
    for row in range(first, last):
        centre = row + 0.5
        # Edges are half-open in y, so a vertex on the row is crossed once.
        crossing = (y0 <= centre) != (y1 <= centre)
        a, b, c, d = x0[crossing], y0[crossing], x1[crossing], y1[crossing]
        xs = np.sort(a + (centre - b) * (c - a) / (d - b))
        for start, end in zip(xs[0::2], xs[1::2], strict=True):
            bits[row, _first_centre_from(start) : _first_centre_from(end)] = 1


def _first_centre_from(edge: float) -> int:
    """The first pixel whose centre, at i + 0.5 in label coordinates, is at or after `edge`."""
    return max(0, math.ceil(edge - 0.5))


def _png(bits: NDArray[np.uint8]) -> bytes:
    out = io.BytesIO()
    PIL.Image.fromarray(bits).save(out, format="PNG")
    return out.getvalue()


def _image_format(item: DatasetItem, name: str) -> str:
    kind = item.content_type.partition("/")[2].lower() or PurePosixPath(name).suffix[1:].lower()
    return "jpeg" if kind == "jpg" else kind


def _quoted(name: str) -> str:
    return name.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")


def _floats(feature: Any, values: list[float]) -> None:
    feature.float_list.SetInParent()
    feature.float_list.value.extend(values)


def _ints(feature: Any, values: list[int]) -> None:
    feature.int64_list.SetInParent()
    feature.int64_list.value.extend(values)


def _bytes(feature: Any, values: list[bytes]) -> None:
    feature.bytes_list.SetInParent()
    feature.bytes_list.value.extend(values)
