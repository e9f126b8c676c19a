"""CVAT for images 1.1 XML: each `<image>` with its shapes.

`box` (rotated ones as the box around them), `polygon`, `mask` (CVAT's RLE
over the mask's own box), `points` (one keypoint set, points numbered),
`skeleton` (a keypoint set with named points; `outside` ones hidden) and
`tag` (a classification). Polylines and cuboids are counted and left out.
An image's shapes are one annotation, by the task's owner when the export
names one; shapes CVAT made automatically (`source="auto"`) are a prediction.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

from labelmesh.sdk.migrate.common import Label, Migration, box, classification, find_media, polygon
from labelmesh.sdk.migrate.masks import box_mask, mask
from labelmesh.sdk.records import UploadRecord

SOURCE = "cvat"


def read(path: str | Path, media_root: str | Path | None = None) -> Migration:
    """The images of an annotations.xml; files are looked up under `media_root`
    (by default an `images` folder beside the file, else the file's folder)."""
    export = Path(path)
    tree = ElementTree.parse(export)
    root = Path(media_root) if media_root is not None else default_root(export)
    owner = tree.findtext("meta/task/owner/username") or tree.findtext("meta/job/owner/username")
    migration = Migration()
    for image in tree.getroot().iter("image"):
        record = image_record(image, root, owner or "", migration)
        if record is not None:
            migration.records.append(record)
    return migration


def default_root(export: Path) -> Path:
    images = export.parent / "images"
    return images if images.is_dir() else export.parent


def image_record(
    image: ElementTree.Element, root: Path, owner: str, migration: Migration
) -> UploadRecord | None:
    name = image.get("name", "")
    found = find_media(name, root)
    if found is None:
        migration.skipped.append(f"image {name}: not under the media root {root}")
        return None
    width, height = int(image.get("width", 0)), int(image.get("height", 0))
    manual: list[Label] = []
    automatic: list[Label] = []
    for shape in image:
        label = shape_label(shape, width, height)
        if label is None:
            migration.unsupported[shape.tag] += 1
            continue
        (automatic if shape.get("source") == "auto" else manual).append(label)
    annotation: dict[str, Any] = {"labels": manual}
    if owner:
        annotation["annotator"] = owner
    return UploadRecord(
        f"{SOURCE}:{name}",
        path=str(found),
        metadata={"cvat_image_id": image.get("id", ""), "path": name},
        annotations=[annotation] if manual else [],
        predictions=[{"labels": automatic}] if automatic else [],
        source=SOURCE,
        source_uri=name,
    )


def shape_label(shape: ElementTree.Element, width: int, height: int) -> Label | None:
    name = shape.get("label", "")
    if shape.tag == "tag":
        return classification(name)
    if shape.tag == "box":
        return rotated_box(shape, name)
    if shape.tag == "polygon":
        return polygon(name, points_of(shape.get("points", "")))
    if shape.tag == "points":
        points = [
            {"name": str(index), "position": {"x": x, "y": y}, "visibility": 1.0}
            for index, (x, y) in enumerate(points_of(shape.get("points", "")))
        ]
        return {"keypoints": {"label": name, "points": points}}
    if shape.tag == "skeleton":
        named = []
        for point in shape.iter("points"):
            x, y = points_of(point.get("points", ""))[0]
            hidden = point.get("outside") == "1" or point.get("occluded") == "1"
            named.append(
                {
                    "name": point.get("label", ""),
                    "position": {"x": x, "y": y},
                    "visibility": 0.0 if hidden else 1.0,
                }
            )
        return {"keypoints": {"label": name, "points": named}}
    if shape.tag == "mask":
        runs = [int(run) for run in shape.get("rle", "").split(",") if run.strip()]
        left, top = int(float(shape.get("left", 0))), int(float(shape.get("top", 0)))
        box_width, box_height = (
            int(float(shape.get("width", 0))),
            int(float(shape.get("height", 0))),
        )
        counts = box_mask(runs, left, top, box_width, box_height, width, height)
        return mask(name, width, height, counts)
    return None


def rotated_box(shape: ElementTree.Element, name: str) -> Label:
    """CVAT rotates a box by `rotation` degrees clockwise about its centre."""
    xtl, ytl = float(shape.get("xtl", 0)), float(shape.get("ytl", 0))
    xbr, ybr = float(shape.get("xbr", 0)), float(shape.get("ybr", 0))
    angle = math.radians(float(shape.get("rotation", 0)))
    if not angle:
        return box(name, xtl, ytl, xbr - xtl, ybr - ytl)
    cx, cy = (xtl + xbr) / 2, (ytl + ybr) / 2
    half_w, half_h = (xbr - xtl) / 2, (ybr - ytl) / 2
    extent_x = abs(half_w * math.cos(angle)) + abs(half_h * math.sin(angle))
    extent_y = abs(half_w * math.sin(angle)) + abs(half_h * math.cos(angle))
    return box(name, cx - extent_x, cy - extent_y, 2 * extent_x, 2 * extent_y)


def points_of(text: str) -> list[tuple[float, float]]:
    """CVAT's "x1,y1;x2,y2;..." as pairs."""
    pairs = []
    for pair in filter(None, text.split(";")):
        x, _, y = pair.partition(",")
        pairs.append((float(x), float(y)))
    return pairs
