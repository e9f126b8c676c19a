"""Ultralytics YOLO datasets, for the detect, segment, pose and classify tasks.

Layout of detect, segment and pose:

    images/<split>/<item id>.<ext>   the image as stored
    labels/<split>/<item id>.txt     one line per object, empty when none
    data.yaml                        one key per split, names (and kpt_shape)

data.yaml has no `path`: Ultralytics then resolves the splits' folders
against the folder holding data.yaml, wherever training runs. An unsplit version
gives `train` and `val` both as `images/all`.

A label line is the class id (0-based, in the order of the version's
classes) and coordinates divided by the image's width or height:

- detect: `cls cx cy w h` for each bounding box. Polygons, masks and
  keypoints are left out (a detector trains on boxes only).
- segment: `cls x1 y1 x2 y2 ...` for each polygon, and for each mask one line
  per outer contour of at least three points, traced by OpenCV through the
  centres of the mask's boundary pixels (holes are lost); masks are
  normalised by their own width and height. Boxes and keypoints are left out.
- pose: `cls cx cy w h x1 y1 v1 ...` for each keypoint set whose class has a
  skeleton, its points in the skeleton's order, padded with `0 0 0` to the
  longest skeleton so that every line has `kpt_shape` points. v is 0 for a
  point the label lacks (or outside the image), 1 for a hidden one
  (visibility <= 0.5), 2 for a visible one. The box is the n-th bounding box
  of the same class on the item for its n-th keypoint set, else the extent
  of its points. Boxes without keypoints, polygons and masks are left out.
  `flip_idx` is written when every skeleton has the same points and each
  left/right name has its partner.

Classify: `<split>/<class>/<item id>.<ext>`, the image once under each class
of its classifications; images without one are skipped. Ultralytics numbers
these classes by their sorted folder names, not by the version's order, and
reads no data.yaml.

Coordinates outside the image are clamped to its edges (a box left empty is
left out), because Ultralytics discards an image's whole label file when any
value is outside [0, 1]. Numbers have 10 decimals: a normalised value is then
within 5e-11 of the exact one, so de-normalised coordinates are within 1e-6
pixels of the stored ones for images up to 20,000 pixels a side.

Images are written whatever `include_media` says, since a YOLO dataset cannot
be trained without them. Items that are not images, and images whose pixels
were not read, are skipped; so are labels of a class outside the version's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import cv2
import yaml

from labelmesh.dataset.exports.base import (
    UNSPLIT,
    ExportContext,
    Media,
    media_name,
    split_of,
    stem,
)
from labelmesh.dataset.exports.masks import mask_bits
from labelmesh.v1.dataset_service_pb2 import DatasetItem
from labelmesh.v1.events_pb2 import DataType, KeypointSkeleton
from labelmesh.v1.geometry_pb2 import BoundingBox, Keypoints, Mask, Point, Polygon

TASKS = ("detect", "segment", "pose", "classify")
_MISSING_POINT = "0.0000000000 0.0000000000 0"
_SIDE = re.compile("left|right", re.IGNORECASE)


class Writer:
    def __init__(self, context: ExportContext, task: str) -> None:
        if task not in TASKS:
            raise ValueError(f"task {task!r} is not one of {', '.join(TASKS)}")
        self._context = context
        self._task = task
        self._ids = {name: n for n, name in enumerate(context.classes)}
        self._skeletons = {s.label: list(s.keypoints) for s in context.version.skeletons}
        self._points = max((len(names) for names in self._skeletons.values()), default=0)
        self._splits: set[str] = set()

    def add(self, item: DatasetItem, image: Media | None) -> None:
        if image is None or item.data_type != DataType.DATA_TYPE_IMAGE:
            return
        split = split_of(item)
        archive = self._context.archive
        if self._task == "classify":
            for name in dict.fromkeys(self._classifications(item)):
                archive.write(f"{split}/{name}/{media_name(item)}", image.data)
            return
        self._splits.add(split)
        archive.write(f"images/{split}/{media_name(item)}", image.data)
        archive.write(
            f"labels/{split}/{stem(item)}.txt", "".join(self._lines(item, image)).encode()
        )

    def finish(self) -> None:
        if self._task != "classify":
            self._context.archive.write("data.yaml", self._data_yaml().encode())

    def _classifications(self, item: DatasetItem) -> Iterator[str]:
        for label in item.labels:
            if label.WhichOneof("kind") == "classification":
                if label.classification.label in self._ids:
                    yield label.classification.label

    def _lines(self, item: DatasetItem, image: Media) -> Iterator[str]:
        if self._task == "detect":
            return self._detect_lines(item, image)
        if self._task == "segment":
            return self._segment_lines(item, image)
        return self._pose_lines(item, image)

    def _detect_lines(self, item: DatasetItem, image: Media) -> Iterator[str]:
        for label in item.labels:
            if label.WhichOneof("kind") != "bounding_box":
                continue
            box = label.bounding_box
            class_id = self._ids.get(box.label)
            fields = _box_fields(_corners(box), image)
            if class_id is not None and fields is not None:
                yield f"{class_id} {fields}\n"

    def _segment_lines(self, item: DatasetItem, image: Media) -> Iterator[str]:
        for label in item.labels:
            kind = label.WhichOneof("kind")
            if kind == "polygon":
                class_id = self._ids.get(label.polygon.label)
                if class_id is not None and len(label.polygon.points) >= 3:
                    yield f"{class_id} {_polygon_fields(label.polygon, image)}\n"
            elif kind == "mask":
                class_id = self._ids.get(label.mask.label)
                if class_id is not None:
                    for fields in _contour_fields(item, label.mask):
                        yield f"{class_id} {fields}\n"

    def _pose_lines(self, item: DatasetItem, image: Media) -> Iterator[str]:
        boxes: dict[str, list[BoundingBox]] = {}
        for label in item.labels:
            if label.WhichOneof("kind") == "bounding_box":
                boxes.setdefault(label.bounding_box.label, []).append(label.bounding_box)
        seen: dict[str, int] = {}
        for label in item.labels:
            if label.WhichOneof("kind") != "keypoints":
                continue
            keypoints = label.keypoints
            class_id = self._ids.get(keypoints.label)
            names = self._skeletons.get(keypoints.label)
            if class_id is None or names is None:
                continue
            n = seen[keypoints.label] = seen.get(keypoints.label, -1) + 1
            paired = boxes.get(keypoints.label, [])
            line = self._pose_line(keypoints, names, paired[n] if n < len(paired) else None, image)
            if line is not None:
                yield f"{class_id} {line}\n"

    def _pose_line(
        self, keypoints: Keypoints, names: list[str], box: BoundingBox | None, image: Media
    ) -> str | None:
        by_name = {p.name: p for p in keypoints.points}
        fields, xs, ys = [], [], []
        for name in names:
            point = by_name.get(name)
            if point is None or not _inside(point.position, image):
                fields.append(_MISSING_POINT)
                continue
            x, y = point.position.x, point.position.y
            xs.append(x)
            ys.append(y)
            v = 1 if point.visibility <= 0.5 else 2
            fields.append(f"{x / image.width:.10f} {y / image.height:.10f} {v}")
        fields.extend([_MISSING_POINT] * (self._points - len(names)))
        if box is not None:
            box_fields = _box_fields(_corners(box), image, allow_empty=True)
        elif xs:
            box_fields = _box_fields((min(xs), min(ys), max(xs), max(ys)), image, allow_empty=True)
        else:
            return None
        return f"{box_fields} {' '.join(fields)}"

    def _data_yaml(self) -> str:
        data: dict[str, object] = {}
        known = self._context.splits
        splits = [s for s in known if s in self._splits] + sorted(self._splits - set(known))
        if splits == [UNSPLIT]:
            # Ultralytics needs both keys; an unsplit version trains and validates on all.
            data["train"] = data["val"] = f"images/{UNSPLIT}"
        else:
            data.update({split: f"images/{split}" for split in splits})
        data["names"] = dict(enumerate(self._context.classes))
        if self._task == "pose" and self._points:
            data["kpt_shape"] = [self._points, 3]
            flip = flip_idx(list(self._context.version.skeletons))
            if flip is not None:
                data["flip_idx"] = flip
        text: str = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        return text


def flip_idx(skeletons: list[KeypointSkeleton]) -> list[int] | None:
    """Which point each point becomes in a mirrored image, by swapping left and
    right in their names; None unless every skeleton has the same points and
    every left or right point has its partner."""
    if not skeletons or any(s.keypoints != skeletons[0].keypoints for s in skeletons):
        return None
    names = list(skeletons[0].keypoints)
    index = {name: n for n, name in enumerate(names)}
    flip = []
    for name in names:
        mirrored = _SIDE.sub(_swap_side, name)
        if mirrored not in index:
            return None
        flip.append(index[mirrored])
    return flip if flip != list(range(len(names))) else None


def _swap_side(match: re.Match[str]) -> str:
    word = match.group(0)
    other = "right" if word.lower() == "left" else "left"
    if word.isupper():
        return other.upper()
    return other.capitalize() if word[0].isupper() else other


def _inside(point: Point, image: Media) -> bool:
    return 0 <= point.x <= image.width and 0 <= point.y <= image.height


def _corners(box: BoundingBox) -> tuple[float, float, float, float]:
    return box.x, box.y, box.x + box.width, box.y + box.height


def _box_fields(
    corners: tuple[float, float, float, float], image: Media, allow_empty: bool = False
) -> str | None:
    """`cx cy w h` of a box clamped to the image; None when nothing of it is left."""
    width, height = image.width, image.height
    x0, y0 = _clamp(corners[0], width), _clamp(corners[1], height)
    x1, y1 = _clamp(corners[2], width), _clamp(corners[3], height)
    if not allow_empty and (x1 <= x0 or y1 <= y0):
        return None
    return (
        f"{(x0 + x1) / 2 / width:.10f} {(y0 + y1) / 2 / height:.10f}"
        f" {(x1 - x0) / width:.10f} {(y1 - y0) / height:.10f}"
    )


def _clamp(value: float, side: int) -> float:
    return 0.0 if value < 0 else side if value > side else value


def _polygon_fields(polygon: Polygon, image: Media) -> str:
    width, height = image.width, image.height
    return _points(
        (_clamp(p.x, width) / width, _clamp(p.y, height) / height) for p in polygon.points
    )


def _contour_fields(item: DatasetItem, mask: Mask) -> Iterator[str]:
    if not mask.width or not mask.height:
        return
    contours, _ = cv2.findContours(
        mask_bits(item, mask), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    for contour in contours:
        if len(contour) < 3:
            continue
        # OpenCV gives pixel indices; pixel i's centre is at i + 0.5 in label coordinates.
        points = (contour.reshape(-1, 2) + 0.5) / (mask.width, mask.height)
        yield _points((float(x), float(y)) for x, y in points)


def _points(points: Iterable[tuple[float, float]]) -> str:
    return " ".join(f"{x:.10f} {y:.10f}" for x, y in points)
