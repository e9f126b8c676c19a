"""COCO: object detection, instance segmentation and keypoints, one JSON file a split.

Layout:

    annotations/instances_<split>.json   for every split of the version
    images/<split>/<item id>.<ext>       with include_media: the stored bytes

Each file holds `info`, `licenses` (empty), `categories`, `images` and
`annotations`. Categories are the version's classes, with ids from 1 in their
order; a class with a keypoint skeleton carries its `keypoints` names and its
`skeleton` as 1-based index pairs. Images are numbered from 1 in the order
they arrive, across all splits; `file_name` is relative to the split's image
folder, and `labelmesh_item_id` names the item.

Annotations, numbered from 1 across all splits:
- a bounding box: `bbox` [x, y, w, h] as stored, `area` w * h, an empty
  `segmentation`;
- a polygon: `segmentation` [[x1, y1, x2, y2, ...]], its shoelace `area` and
  its bounding box; polygons of fewer than three points are left out;
- a mask: uncompressed RLE `{"size": [h, w], "counts": [...]}`, re-encoded in
  COCO's column-major order, with its number of set pixels as `area` and the
  set pixels' bounding box. It is cut or padded to the image's size, pixel
  for pixel from the top left; an empty mask is left out. `iscrowd` is 0: the
  mask is one object, and COCOeval, Detectron2 and MMDetection ignore crowds;
- keypoints: `keypoints` [x, y, v, ...] in the category's order, where v is 0
  for a keypoint not labelled (x and y are then 0 too), 2 for one more than
  half visible and 1 otherwise, and `num_keypoints` counts those with v > 0.
  A keypoint set joins the smallest box of its class that holds all its
  labelled points and has no keypoints yet; with no such box it is an
  annotation of its own, with its points' bounding box. Every annotation of a
  class with a skeleton carries `keypoints`, all zero when it has none, as
  COCO's keypoint evaluation expects. Keypoints of a class with no skeleton,
  and keypoint sets with no labelled point, are left out.

Classifications are not annotations: an image lists the ids of its
classification labels under `category_ids`, an extension of the format that
COCO readers ignore. Labels of a class that is not one of the version's are
left out, as are labels of kinds an image does not have. COCO is an image
format: text and audio items are skipped.

Image and annotation entries are written, as they arrive, to per-split files
under the working directory; `finish` streams them into each split's JSON.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import orjson
from numpy.typing import NDArray

from labelmesh.dataset.exports.base import ExportContext, ExportFailed, Media, media_name, split_of
from labelmesh.dataset.exports.masks import mask_bits, run_lengths
from labelmesh.v1.dataset_service_pb2 import DatasetItem
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import BoundingBox, Keypoints, Mask, Polygon

ITEM_ID_KEY = "labelmesh_item_id"
IMAGE_CATEGORIES_KEY = "category_ids"
# Fully visible above this LabelMesh visibility, labelled but hidden at or below it.
VISIBLE_ABOVE = 0.5
# Entries are buffered, and copied, this many bytes at a time.
_BUFFER_BYTES = 1024 * 1024

Entry = dict[str, Any]

# Read once: each read of a protobuf enum's attribute is a slow lookup.
IMAGE_ITEM = DataType.DATA_TYPE_IMAGE


def annotations_path(split: str) -> str:
    return f"annotations/instances_{split}.json"


def images_folder(split: str) -> str:
    return f"images/{split}"


class Writer:
    def __init__(self, context: ExportContext) -> None:
        self._context = context
        classes = context.classes
        self._category_ids = {name: n for n, name in enumerate(classes, start=1)}
        self._keypoint_names = {
            skeleton.label: list(skeleton.keypoints)
            for skeleton in context.version.skeletons
            if skeleton.label in self._category_ids
        }
        self._head = _head(context, classes)
        self._splits: dict[str, _SplitEntries] = {}
        for split in context.splits:
            self._split(split)
        self._image_id = 0
        self._annotation_id = 0

    def add(self, item: DatasetItem, image: Media | None) -> None:
        if item.data_type != IMAGE_ITEM:
            return
        if image is None:
            raise ExportFailed(f"item {item.item_id}: COCO needs the image, and none was read")
        self._image_id += 1
        split = split_of(item)
        name = media_name(item)
        entry: Entry = {
            "id": self._image_id,
            "file_name": name,
            "width": image.width,
            "height": image.height,
            ITEM_ID_KEY: item.item_id,
            IMAGE_CATEGORIES_KEY: self._image_categories(item),
        }
        annotations = self._annotations(item, image)
        self._split(split).add(entry, annotations)
        if self._context.include_media:
            self._context.archive.write(f"{images_folder(split)}/{name}", image.data)

    def finish(self) -> None:
        splits = self._context.splits
        for split in [*splits, *sorted(set(self._splits) - set(splits))]:
            path = self._splits[split].assemble(self._head)
            self._context.archive.write_file(annotations_path(split), path)

    def _split(self, split: str) -> _SplitEntries:
        entries = self._splits.get(split)
        if entries is None:
            entries = self._splits[split] = _SplitEntries(self._context.workdir, split)
        return entries

    def _image_categories(self, item: DatasetItem) -> list[int]:
        ids = self._category_ids
        found = {
            ids[label.classification.label]
            for label in item.labels
            if label.HasField("classification") and label.classification.label in ids
        }
        return sorted(found)

    def _annotations(self, item: DatasetItem, image: Media) -> list[Entry]:
        entries: list[Entry | None] = []
        boxes: list[_Box] = []
        keypoint_sets: list[Keypoints] = []
        for label in item.labels:
            kind = label.WhichOneof("kind")
            if kind == "bounding_box":
                box = label.bounding_box
                entry = self._entry(box.label, box_geometry(box))
                if entry is not None:
                    entries.append(entry)
                    boxes.append(_Box(box, entry))
            elif kind == "polygon":
                polygon = label.polygon
                if len(polygon.points) >= 3:
                    entries.append(self._entry(polygon.label, polygon_geometry(polygon)))
            elif kind == "mask":
                mask = label.mask
                if mask.label in self._category_ids:
                    geometry = mask_geometry(item, mask, image.width, image.height)
                    if geometry is not None:
                        entries.append(self._entry(mask.label, geometry))
            elif kind == "keypoints":
                keypoint_sets.append(label.keypoints)
        for keypoints in keypoint_sets:
            entries.append(self._place_keypoints(keypoints, boxes))
        return [entry for entry in entries if entry is not None]

    def _entry(self, label: str, geometry: Entry) -> Entry | None:
        category_id = self._category_ids.get(label)
        if category_id is None:
            return None
        self._annotation_id += 1
        entry: Entry = {
            "id": self._annotation_id,
            "image_id": self._image_id,
            "category_id": category_id,
            **geometry,
        }
        names = self._keypoint_names.get(label)
        if names is not None:
            entry["keypoints"] = [0] * (3 * len(names))
            entry["num_keypoints"] = 0
        return entry

    def _place_keypoints(self, keypoints: Keypoints, boxes: list[_Box]) -> Entry | None:
        """Put the keypoints on the box that holds them, or in an annotation of their own."""
        names = self._keypoint_names.get(keypoints.label)
        if names is None:
            return None
        values = keypoint_values(keypoints, names)
        labelled = [(values[i], values[i + 1]) for i in range(0, len(values), 3) if values[i + 2]]
        if not labelled:
            return None
        host = _smallest_holding_box(keypoints.label, labelled, boxes)
        if host is not None:
            host.has_keypoints = True
            host.entry["keypoints"] = values
            host.entry["num_keypoints"] = len(labelled)
            return None
        xs = [x for x, _ in labelled]
        ys = [y for _, y in labelled]
        width, height = max(xs) - min(xs), max(ys) - min(ys)
        geometry = {
            "bbox": [min(xs), min(ys), width, height],
            "area": width * height,
            "iscrowd": 0,
            "segmentation": [],
        }
        entry = self._entry(keypoints.label, geometry)
        if entry is not None:
            entry["keypoints"] = values
            entry["num_keypoints"] = len(labelled)
        return entry


@dataclass
class _Box:
    box: BoundingBox
    entry: Entry
    has_keypoints: bool = False


def _smallest_holding_box(
    label: str, points: list[tuple[float, float]], boxes: list[_Box]
) -> _Box | None:
    holding = [
        candidate
        for candidate in boxes
        if candidate.box.label == label
        and not candidate.has_keypoints
        and all(_inside(candidate.box, x, y) for x, y in points)
    ]
    return min(holding, key=lambda c: c.box.width * c.box.height, default=None)


def _inside(box: BoundingBox, x: float, y: float) -> bool:
    return box.x <= x <= box.x + box.width and box.y <= y <= box.y + box.height


class _SplitEntries:
    """A split's image and annotation entries, as comma-separated JSON in two files."""

    def __init__(self, workdir: Path, split: str) -> None:
        self._path = workdir / f"instances_{split}.json"
        self._images = _Fragments(workdir / f"images_{split}.part")
        self._annotations = _Fragments(workdir / f"annotations_{split}.part")

    def add(self, image: Entry, annotations: list[Entry]) -> None:
        self._images.append(_dumps(image))
        if annotations:
            # One dump for the item's list, without its brackets.
            self._annotations.append(_dumps(annotations)[1:-1])

    def assemble(self, head: bytes) -> Path:
        """Write the split's whole JSON file and return its path."""
        with self._path.open("wb") as out:
            out.write(head)
            out.write(b',"images":[')
            self._images.copy_to(out)
            out.write(b'],"annotations":[')
            self._annotations.copy_to(out)
            out.write(b"]}")
        return self._path


class _Fragments:
    """Comma-separated JSON fragments in a file, appended a buffer at a time so
    that no file stays open between items: the protocol has no close for a
    writer whose export fails."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._path.write_bytes(b"")
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._empty = True

    def append(self, fragment: bytes) -> None:
        if not self._empty:
            self._buffer.append(b",")
        self._buffer.append(fragment)
        self._buffered += len(fragment)
        self._empty = False
        if self._buffered >= _BUFFER_BYTES:
            self._flush()

    def copy_to(self, out: BinaryIO) -> None:
        self._flush()
        with self._path.open("rb") as source:
            shutil.copyfileobj(source, out, _BUFFER_BYTES)

    def _flush(self) -> None:
        with self._path.open("ab") as file:
            file.write(b"".join(self._buffer))
        self._buffer.clear()
        self._buffered = 0


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def _head(context: ExportContext, classes: list[str]) -> bytes:
    """The start of every split's JSON object, up to its images, without a closing brace."""
    skeletons = {skeleton.label: skeleton for skeleton in context.version.skeletons}
    categories: list[Entry] = []
    for n, name in enumerate(classes, start=1):
        category: Entry = {"id": n, "name": name, "supercategory": ""}
        skeleton = skeletons.get(name)
        if skeleton is not None:
            category["keypoints"] = list(skeleton.keypoints)
            category["skeleton"] = [
                [getattr(edge, "from") + 1, edge.to + 1] for edge in skeleton.edges
            ]
        categories.append(category)
    version = context.version
    head = {
        "info": {"description": version.name, "version": version.version_id},
        "licenses": [],
        "categories": categories,
    }
    return _dumps(head)[:-1]


def box_geometry(box: BoundingBox) -> Entry:
    return {
        "bbox": [box.x, box.y, box.width, box.height],
        "area": box.width * box.height,
        "iscrowd": 0,
        "segmentation": [],
    }


def polygon_geometry(polygon: Polygon) -> Entry:
    xs = [point.x for point in polygon.points]
    ys = [point.y for point in polygon.points]
    coordinates = [value for point in polygon.points for value in (point.x, point.y)]
    # The shoelace formula, each vertex with the next, the last with the first.
    twice_area = sum(
        x * next_y - next_x * y
        for x, y, next_x, next_y in zip(xs, ys, xs[1:] + xs[:1], ys[1:] + ys[:1], strict=True)
    )
    left, top = min(xs), min(ys)
    return {
        "bbox": [left, top, max(xs) - left, max(ys) - top],
        "area": abs(twice_area) / 2,
        "iscrowd": 0,
        "segmentation": [coordinates],
    }


def mask_geometry(item: DatasetItem, mask: Mask, width: int, height: int) -> Entry | None:
    """The mask as COCO's uncompressed RLE at the image's size; None when it is empty."""
    bits = _fit(mask_bits(item, mask), width, height)
    rows = np.flatnonzero(bits.any(axis=1))
    if rows.size == 0:
        return None
    columns = np.flatnonzero(bits.any(axis=0))
    left, top = int(columns[0]), int(rows[0])
    return {
        "bbox": [left, top, int(columns[-1]) - left + 1, int(rows[-1]) - top + 1],
        "area": int(np.count_nonzero(bits)),
        "iscrowd": 0,
        "segmentation": {"size": [height, width], "counts": run_lengths(bits, "F")},
    }


def _fit(bits: NDArray[np.uint8], width: int, height: int) -> NDArray[np.uint8]:
    bits = bits[:height, :width]
    if bits.shape != (height, width):
        bits = np.pad(bits, ((0, height - bits.shape[0]), (0, width - bits.shape[1])))
    return bits


def keypoint_values(keypoints: Keypoints, names: list[str]) -> list[float]:
    """[x, y, v] for each name, in order; [0, 0, 0] for a name with no point."""
    by_name = {point.name: point for point in keypoints.points}
    values: list[float] = []
    for name in names:
        point = by_name.get(name)
        if point is None:
            values += (0, 0, 0)
        else:
            visible = 2 if point.visibility > VISIBLE_ABOVE else 1
            values += (point.position.x, point.position.y, visible)
    return values
