"""COCO: `images`, `categories` and `annotations` (or a results file whose
entries carry a `score`, which become predictions).

`bbox` becomes a box; polygon `segmentation` one polygon per ring; RLE
segmentation (compressed or not) a mask; `keypoints` a keypoint set named
after the category's keypoints (v=0 points, not labelled, are left out; v=1
ones are hidden). An image's annotations are one annotation of its item.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from labelmesh.sdk.migrate.common import Label, Migration, box, find_media, polygon
from labelmesh.sdk.migrate.masks import coco_counts, mask
from labelmesh.sdk.records import UploadRecord

SOURCE = "coco"


def read(path: str | Path, media_root: str | Path | None = None) -> Migration:
    """The images of a COCO file; `file_name`s are looked up under `media_root`
    (by default the file's folder)."""
    export = Path(path)
    coco = json.loads(export.read_text(encoding="utf-8"))
    root = Path(media_root) if media_root is not None else export.parent
    categories = {c["id"]: c for c in coco.get("categories", [])}
    by_image: dict[Any, list[Mapping[str, Any]]] = defaultdict(list)
    for annotation in coco.get("annotations", []):
        by_image[annotation["image_id"]].append(annotation)
    migration = Migration()
    for image in coco.get("images", []):
        name = str(image.get("file_name", ""))
        found = find_media(name, root)
        if found is None:
            migration.skipped.append(f"image {name}: not under the media root {root}")
            continue
        annotated: list[Label] = []
        predicted: list[Label] = []
        for annotation in by_image.get(image["id"], []):
            made = labels_of(annotation, categories)
            if not made:
                migration.unsupported["annotation without bbox, segmentation or keypoints"] += 1
            if "score" in annotation:
                for label in made:
                    label["confidence"] = float(annotation["score"])
                predicted += made
            else:
                annotated += made
        migration.records.append(
            UploadRecord(
                f"{SOURCE}:{image['id']}",
                path=str(found),
                metadata={"coco_image_id": str(image["id"]), "path": name},
                annotations=[{"labels": annotated, "annotator": SOURCE}] if annotated else [],
                predictions=[{"labels": predicted}] if predicted else [],
                source=SOURCE,
                source_uri=name,
            )
        )
    return migration


def labels_of(
    annotation: Mapping[str, Any],
    categories: Mapping[Any, Mapping[str, Any]],
) -> list[Label]:
    category = categories.get(annotation.get("category_id"), {})
    name = str(category.get("name", annotation.get("category_id", "")))
    labels: list[Label] = []
    segmentation = annotation.get("segmentation")
    if isinstance(segmentation, list) and segmentation:
        for ring in segmentation:
            points = [(float(ring[i]), float(ring[i + 1])) for i in range(0, len(ring) - 1, 2)]
            labels.append(polygon(name, points))
    elif isinstance(segmentation, dict) and "counts" in segmentation:
        rows, columns = (int(v) for v in segmentation["size"])
        counts = coco_counts(segmentation["counts"], columns, rows)
        labels.append(mask(name, columns, rows, counts))
    elif annotation.get("bbox"):
        x, y, width, height = (float(v) for v in annotation["bbox"])
        labels.append(box(name, x, y, width, height))
    if annotation.get("keypoints"):
        labels.append(keypoints(name, annotation["keypoints"], category.get("keypoints", [])))
    return labels


def keypoints(name: str, values: Sequence[float], names: Sequence[str]) -> Label:
    points = []
    for index in range(len(values) // 3):
        x, y, visible = values[3 * index : 3 * index + 3]
        if visible == 0:
            continue
        point_name = names[index] if index < len(names) else str(index)
        points.append(
            {
                "name": point_name,
                "position": {"x": float(x), "y": float(y)},
                "visibility": 1.0 if visible == 2 else 0.0,
            }
        )
    return {"keypoints": {"label": name, "points": points}}
