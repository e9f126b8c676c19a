from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pycocotools import mask as coco_mask

from labelmesh.sdk.migrate import coco
from labelmesh.sdk.migrate.masks import runs_of


def test_boxes_polygons_masks_and_keypoints_come_in_and_scored_ones_as_predictions(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.png").write_bytes(b"png")
    bits = np.zeros((6, 9), dtype=np.uint8)
    bits[1:4, 2:7] = 1
    encoded = coco_mask.encode(np.asfortranarray(bits))
    document = {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 9, "height": 6},
            {"id": 2, "file_name": "gone.png", "width": 9, "height": 6},
        ],
        "categories": [
            {"id": 3, "name": "cat"},
            {"id": 4, "name": "person", "keypoints": ["nose", "eye", "ear"]},
        ],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4], "segmentation": []},
            {
                "id": 11,
                "image_id": 1,
                "category_id": 3,
                "bbox": [0, 0, 4, 4],
                "segmentation": [[0, 0, 4, 0, 4, 4]],
            },
            {
                "id": 12,
                "image_id": 1,
                "category_id": 3,
                "iscrowd": 1,
                "segmentation": {"size": [6, 9], "counts": encoded["counts"].decode()},
            },
            {
                "id": 13,
                "image_id": 1,
                "category_id": 4,
                "bbox": [0, 0, 9, 6],
                "keypoints": [1, 1, 2, 0, 0, 0, 5, 5, 1],
            },
            {"id": 14, "image_id": 1, "category_id": 3, "bbox": [5, 5, 1, 1], "score": 0.4},
        ],
    }
    (tmp_path / "instances.json").write_text(json.dumps(document))

    migration = coco.read(tmp_path / "instances.json")

    [record] = migration.records
    [annotation] = record.annotations
    labels = annotation["labels"]
    assert labels[0] == {
        "bounding_box": {"label": "cat", "x": 1.0, "y": 2.0, "width": 3.0, "height": 4.0}
    }
    assert [p["x"] for p in labels[1]["polygon"]["points"]] == [0.0, 4.0, 4.0]
    assert labels[2]["mask"] == {
        "label": "cat",
        "width": 9,
        "height": 6,
        "counts": runs_of(bits.flatten()),
    }
    assert labels[3] == {
        "bounding_box": {"label": "person", "x": 0.0, "y": 0.0, "width": 9.0, "height": 6.0}
    }
    assert labels[4]["keypoints"] == {
        "label": "person",
        "points": [
            {"name": "nose", "position": {"x": 1.0, "y": 1.0}, "visibility": 1.0},
            {"name": "ear", "position": {"x": 5.0, "y": 5.0}, "visibility": 0.0},
        ],
    }
    [prediction] = record.predictions
    assert prediction["labels"][0]["confidence"] == 0.4
    assert migration.skipped == [f"image gone.png: not under the media root {tmp_path}"]
