"""Augmented copies of an image item, made at export time with albumentations.

Copy n (from 1) of item `id` is the item `id~aug<n>`: the version's `Augmentation`
recipe applied to its pixels and, through albumentations' own targets, to its labels.
The transforms run in this order, each with the recipe's probability:

- horizontal flip, vertical flip, rotation by a random multiple of 90 degrees;
- crop (`RandomCropFromBorders`): each side of the crop is drawn between
  `crop_min_scale` and 1 of the image's side, and the copy is the crop, not resized;
- scaling (`Affine`): a zoom about the centre by a factor in [scale_min, scale_max],
  on a canvas of the same size, black (and transparent) where the image does not reach;
- colour jitter: brightness, contrast and saturation by up to `color_jitter`, hue by
  a tenth of it.

Labels follow the pixels:

- boxes go through `bboxes` (COCO x, y, width, height), clipped to the image; a box
  with nothing left inside the image after a crop or a zoom is dropped;
- polygon vertices and keypoints go through `keypoints`; a polygon is then clipped to
  the image and dropped when no area is left; a keypoint that leaves the image keeps
  its transformed position with visibility 0, so that an instance keeps every point
  of its skeleton, and an instance with no point left in the image is dropped. A
  copy that is mirrored (one flip, not both: rotations keep handedness) swaps the
  names of left and right points of the class's skeleton, "left_hand" becoming
  "right_hand", as a pose model must see the mirrored person's hands; a name without
  a counterpart in the skeleton keeps its name;
- masks go through `masks`, decoded from and re-encoded to row-major run lengths
  starting with zeros; a mask with no pixel left is dropped;
- other labels (classification, text span, ...) are kept as they are.

Coordinates come back from albumentations in float32; they are rounded to 1e-4 pixel.

Each copy is seeded from sha256 of the recipe's seed, the item id and n, so a copy
is the same whatever order items come in. Its media is written in the stored format
(PNG, GIF, JPEG or WebP at quality 95; any other becomes PNG, with a `.png` file
name), without EXIF, as labels are in the stored pixels' coordinates; alpha is kept,
palette images become RGB(A) and 16-bit grey becomes 8-bit. `content_type`,
`content_sha256`, `width` and `height` describe the new image; every other field
is the item's.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import PIL.Image
from numpy.typing import NDArray

from labelmesh.dataset.exports.base import ExportFailed, Media
from labelmesh.dataset.exports.masks import mask_bits, run_lengths
from labelmesh.v1.dataset_service_pb2 import DatasetItem
from labelmesh.v1.events_pb2 import Augmentation, KeypointSkeleton
from labelmesh.v1.geometry_pb2 import Label, Mask

Pixels = NDArray[np.uint8]
XY = tuple[float, float]

# The stored formats written back as they are: content type and encoder options.
_ENCODINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "PNG": ("image/png", {}),
    "JPEG": ("image/jpeg", {"quality": 95}),
    "WEBP": ("image/webp", {"quality": 95}),
    "GIF": ("image/gif", {}),
}
# PIL names the multi-picture JPEG of many cameras MPO; it is written as a plain JPEG.
_ALIASES = {"MPO": "JPEG"}
_DIGITS = 4
_CACHED_RECIPES = 8
_MIRRORS = {"HorizontalFlip", "VerticalFlip"}
_SIDE = re.compile("left|right", re.IGNORECASE)
# A keypoint name's mirror image by class: {"person": {"left_hand": "right_hand", ...}}.
MirroredNames = Mapping[str, Mapping[str, str]]


def mirrored_names(skeletons: Sequence[KeypointSkeleton]) -> dict[str, dict[str, str]]:
    """Each skeleton's left and right names paired both ways, where both are in it."""
    pairs: dict[str, dict[str, str]] = {}
    for skeleton in skeletons:
        names = set(skeleton.keypoints)
        mirrors = {name: _SIDE.sub(_other_side, name) for name in names}
        pairs[skeleton.label] = {
            name: mirror for name, mirror in mirrors.items() if mirror != name and mirror in names
        }
    return pairs


def _other_side(side: re.Match[str]) -> str:
    word = side.group()
    other = "right" if word.lower() == "left" else "left"
    if word.isupper():
        return other.upper()
    return other.capitalize() if word[0].isupper() else other


def copies(
    item: DatasetItem, image: Media, recipe: Augmentation, mirrors: MirroredNames
) -> Iterator[tuple[DatasetItem, Media]]:
    """The `recipe.copies` augmented copies of an image item and its pixels;
    `mirrors` are the names that swap when a copy is mirrored."""
    pipeline = _pipeline(recipe)
    source = _decode(item, image)
    targets = _targets(item, source) if pipeline.geometric else None
    for n in range(1, recipe.copies + 1):
        seed = _seed(recipe.seed, item.item_id, n)
        # One shared stream for all transforms: set_random_seed (and Compose(seed=))
        # seeds each transform alike, so that e.g. both flips always agree.
        pipeline.compose.set_random_state(np.random.default_rng(seed), random.Random(seed))
        if targets is None:
            pixels = pipeline.compose(image=source.pixels)["image"]
            yield _copy(item, n, source, pixels, source.alpha, list(item.labels))
            continue
        result = pipeline.compose(**targets.inputs)
        pixels = result["image"]
        masks = list(result.get("masks", []))
        alpha = masks.pop() if source.alpha is not None else None
        labels = _moved_labels(item, targets, result, masks, pixels.shape[1], pixels.shape[0])
        if _is_mirrored(result):
            _swap_sides(labels, mirrors)
        yield _copy(item, n, source, pixels, alpha, labels)


def _is_mirrored(result: dict[str, Any]) -> bool:
    flips = sum(name in _MIRRORS for name, _ in result["applied_transforms"])
    return flips % 2 == 1


def _swap_sides(labels: list[Label], mirrors: MirroredNames) -> None:
    for label in labels:
        if label.HasField("keypoints"):
            names = mirrors.get(label.keypoints.label, {})
            for point in label.keypoints.points:
                point.name = names.get(point.name, point.name)


def _seed(recipe_seed: int, item_id: str, n: int) -> int:
    digest = hashlib.sha256(f"{recipe_seed}\0{item_id}\0{n}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass(frozen=True)
class _Pipeline:
    compose: Any
    # Whether it moves pixels, so labels must go through it.
    geometric: bool


_local = threading.local()


def _pipeline(recipe: Augmentation) -> _Pipeline:
    """The recipe's pipeline, built once per thread: a Compose carries the random
    state of the call under way, so concurrent exports must not share one."""
    key = (
        recipe.horizontal_flip,
        recipe.vertical_flip,
        recipe.rotate90,
        recipe.crop_min_scale,
        recipe.scale_min,
        recipe.scale_max,
        recipe.color_jitter,
    )
    cache: dict[tuple[float, ...], _Pipeline] = _local.__dict__.setdefault("pipelines", {})
    pipeline = cache.get(key)
    if pipeline is None:
        if len(cache) >= _CACHED_RECIPES:
            cache.clear()
        pipeline = cache[key] = _build(recipe)
    return pipeline


def _build(recipe: Augmentation) -> _Pipeline:
    # Imported on first use, as it takes seconds and most exports are not augmented;
    # unless told not to, importing it asks PyPI for a newer version.
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    import albumentations as A

    geometric: list[Any] = []
    if recipe.horizontal_flip:
        geometric.append(A.HorizontalFlip(p=recipe.horizontal_flip))
    if recipe.vertical_flip:
        geometric.append(A.VerticalFlip(p=recipe.vertical_flip))
    if recipe.rotate90:
        geometric.append(A.RandomRotate90(p=recipe.rotate90))
    if 0 < recipe.crop_min_scale < 1:
        margin = (1 - recipe.crop_min_scale) / 2
        geometric.append(A.RandomCropFromBorders(margin, margin, margin, margin, p=1))
    if recipe.scale_min and (recipe.scale_min, recipe.scale_max) != (1, 1):
        scale = (recipe.scale_min, recipe.scale_max)
        geometric.append(A.Affine(scale=scale, keep_ratio=True, p=1))
    jitter = recipe.color_jitter
    colour = [A.ColorJitter(jitter, jitter, jitter, jitter / 10, p=1)] if jitter else []
    if not geometric:
        return _Pipeline(A.Compose(colour), geometric=False)
    compose = A.Compose(
        geometric + colour,
        bbox_params=A.BboxParams(
            format="coco", label_fields=["box_ids"], clip=True, filter_invalid_bboxes=True
        ),
        keypoint_params=A.KeypointParams(
            format="xy", label_fields=["point_ids"], remove_invisible=False
        ),
        # Which transforms a copy drew: its flips decide whether it is mirrored.
        save_applied_params=True,
    )
    return _Pipeline(compose, geometric=True)


@dataclass(frozen=True)
class _Source:
    pixels: Pixels
    alpha: Pixels | None
    # The PIL format to write copies in.
    format: str


def _decode(item: DatasetItem, image: Media) -> _Source:
    with PIL.Image.open(io.BytesIO(image.data)) as opened:
        stored = _ALIASES.get(opened.format or "", opened.format or "")
        if opened.mode in ("L", "RGB", "RGBA"):
            array = np.asarray(opened)
        elif opened.mode.startswith("I;16") or opened.mode == "I":
            array = (np.asarray(opened).astype(np.uint32) >> 8).clip(0, 255).astype(np.uint8)
        elif "A" in opened.mode or "transparency" in opened.info:
            array = np.asarray(opened.convert("RGBA"))
        else:
            array = np.asarray(opened.convert("L" if opened.mode in ("1", "F") else "RGB"))
    if array.shape[:2] != (image.height, image.width):
        raise ExportFailed(f"item {item.item_id}: its image does not decode to its header's size")
    if array.ndim == 3 and array.shape[2] == 4:
        return _Source(np.ascontiguousarray(array[:, :, :3]), array[:, :, 3].copy(), stored)
    return _Source(array, None, stored)


@dataclass(frozen=True)
class _Targets:
    """An item's geometry as albumentations takes it, and whose it is."""

    inputs: dict[str, Any]
    # The label index of each box, in the order of `bboxes`.
    boxes: list[int]
    # The rows of `keypoints` holding each polygon's or keypoint set's points.
    points: dict[int, range]
    # The label index of each mask, in the order of `masks`.
    masks: list[int]


def _targets(item: DatasetItem, source: _Source) -> _Targets:
    height, width = source.pixels.shape[:2]
    boxes: list[tuple[float, float, float, float]] = []
    box_owners: list[int] = []
    # Albumentations puts a point's pixel at its integer coordinates (a flip maps x to
    # width - 1 - x); LabelMesh puts pixel edges there, as for boxes, hence the half pixel.
    points: list[XY] = []
    point_rows: dict[int, range] = {}
    masks: list[Pixels] = []
    mask_owners: list[int] = []
    for index, label in enumerate(item.labels):
        kind = label.WhichOneof("kind")
        if kind == "bounding_box":
            box = label.bounding_box
            boxes.append((box.x, box.y, box.width, box.height))
            box_owners.append(index)
        elif kind == "polygon" or kind == "keypoints":
            start = len(points)
            if kind == "polygon":
                points.extend((p.x - 0.5, p.y - 0.5) for p in label.polygon.points)
            else:
                points.extend(
                    (k.position.x - 0.5, k.position.y - 0.5) for k in label.keypoints.points
                )
            point_rows[index] = range(start, len(points))
        elif kind == "mask":
            masks.append(_decode_mask(item, label.mask, width, height))
            mask_owners.append(index)
    if source.alpha is not None:
        masks.append(source.alpha)
    inputs: dict[str, Any] = {
        "image": source.pixels,
        "bboxes": np.array(boxes, dtype=np.float64).reshape(-1, 4),
        "box_ids": list(range(len(boxes))),
        "keypoints": np.array(points, dtype=np.float64).reshape(-1, 2),
        "point_ids": list(range(len(points))),
    }
    if masks:
        inputs["masks"] = masks
    return _Targets(inputs, box_owners, point_rows, mask_owners)


def _moved_labels(
    item: DatasetItem,
    targets: _Targets,
    result: dict[str, Any],
    masks: Sequence[Pixels],
    width: int,
    height: int,
) -> list[Label]:
    """The item's labels after the transform, in their order, less those that left."""
    boxes = {
        targets.boxes[int(row)]: box
        for row, box in zip(result["box_ids"], result["bboxes"], strict=True)
    }
    points: dict[int, XY] = {
        int(row): (float(x) + 0.5, float(y) + 0.5)
        for row, (x, y) in zip(result["point_ids"], result["keypoints"][:, :2], strict=True)
    }
    mask_of = dict(zip(targets.masks, masks, strict=True))
    labels: list[Label] = []
    for index, label in enumerate(item.labels):
        kind = label.WhichOneof("kind")
        moved: Label | None = label
        if kind == "bounding_box":
            moved = _box(label, boxes.get(index))
        elif kind == "polygon":
            moved = _polygon(label, [points[r] for r in targets.points[index]], width, height)
        elif kind == "keypoints":
            moved = _keypoints(label, [points[r] for r in targets.points[index]], width, height)
        elif kind == "mask":
            moved = _mask(label, mask_of[index])
        if moved is not None:
            labels.append(moved)
    return labels


def _box(label: Label, box: NDArray[np.float64] | None) -> Label | None:
    if box is None:
        return None
    x, y, w, h = (round(float(v), _DIGITS) for v in box[:4])
    if w <= 0 or h <= 0:
        return None
    moved = Label()
    moved.CopyFrom(label)
    moved.bounding_box.x, moved.bounding_box.y = x, y
    moved.bounding_box.width, moved.bounding_box.height = w, h
    return moved


def _polygon(label: Label, vertices: list[XY], width: int, height: int) -> Label | None:
    clipped = [(round(x, _DIGITS), round(y, _DIGITS)) for x, y in _clip(vertices, width, height)]
    clipped = [p for i, p in enumerate(clipped) if p != clipped[i - 1]]
    if len(clipped) < 3 or _area(clipped) == 0:
        return None
    moved = Label()
    moved.CopyFrom(label)
    del moved.polygon.points[:]
    for x, y in clipped:
        moved.polygon.points.add(x=x, y=y)
    return moved


def _keypoints(label: Label, positions: list[XY], width: int, height: int) -> Label | None:
    inside = [0 <= x <= width and 0 <= y <= height for x, y in positions]
    if positions and not any(inside):
        return None
    moved = Label()
    moved.CopyFrom(label)
    for point, (x, y), visible in zip(moved.keypoints.points, positions, inside, strict=True):
        point.position.x, point.position.y = round(x, _DIGITS), round(y, _DIGITS)
        if not visible:
            point.visibility = 0
    return moved


def _mask(label: Label, bits: Pixels) -> Label | None:
    if not bits.any():
        return None
    moved = Label()
    moved.CopyFrom(label)
    moved.mask.height, moved.mask.width = bits.shape
    del moved.mask.counts[:]
    moved.mask.counts.extend(run_lengths(bits))
    return moved


def _clip(vertices: list[XY], width: float, height: float) -> list[XY]:
    """The polygon cut to the image rectangle, edge by edge (Sutherland-Hodgman)."""
    for axis, limit, below in (
        (0, 0.0, False),
        (0, width, True),
        (1, 0.0, False),
        (1, height, True),
    ):
        kept: list[XY] = []
        for i, current in enumerate(vertices):
            previous = vertices[i - 1]
            current_in = current[axis] <= limit if below else current[axis] >= limit
            previous_in = previous[axis] <= limit if below else previous[axis] >= limit
            if current_in != previous_in:
                t = (limit - previous[axis]) / (current[axis] - previous[axis])
                kept.append(
                    (
                        previous[0] + t * (current[0] - previous[0]),
                        previous[1] + t * (current[1] - previous[1]),
                    )
                )
            if current_in:
                kept.append(current)
        vertices = kept
    return vertices


def _area(vertices: list[XY]) -> float:
    following = vertices[1:] + vertices[:1]
    twice = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(vertices, following, strict=True))
    return abs(twice) / 2


def _decode_mask(item: DatasetItem, mask: Mask, width: int, height: int) -> Pixels:
    if (mask.width, mask.height) != (width, height):
        raise ExportFailed(
            f"item {item.item_id}: its {mask.label!r} mask is {mask.width}x{mask.height}, "
            f"its image {width}x{height}; it cannot follow the augmented pixels"
        )
    return mask_bits(item, mask)


def _copy(
    item: DatasetItem,
    n: int,
    source: _Source,
    pixels: Pixels,
    alpha: Pixels | None,
    labels: list[Label],
) -> tuple[DatasetItem, Media]:
    written = source.format if source.format in _ENCODINGS else "PNG"
    content_type, options = _ENCODINGS[written]
    array = pixels if alpha is None else np.dstack((pixels, alpha))
    out = io.BytesIO()
    PIL.Image.fromarray(np.ascontiguousarray(array)).save(out, format=written, **options)
    data = out.getvalue()
    copy = DatasetItem()
    copy.CopyFrom(item)
    copy.item_id = f"{item.item_id}~aug{n}"
    copy.content_type = content_type
    copy.content_sha256 = hashlib.sha256(data).hexdigest()
    copy.width, copy.height = int(pixels.shape[1]), int(pixels.shape[0])
    if written != source.format and item.filename:
        copy.filename = str(PurePosixPath(item.filename).with_suffix(".png"))
    del copy.labels[:]
    copy.labels.extend(labels)
    return copy, Media(data, int(pixels.shape[1]), int(pixels.shape[0]))
