"""Label Studio's JSON export: its tasks, their annotations (with who made
them and when) and predictions (with score and model version).

Result types and what they become:

- `choices`: a classification per choice;
- `rectanglelabels`, `polygonlabels`: a box or polygon, from percent of the
  image to pixels (`original_width`, `original_height`); a rotated rectangle
  becomes the box around it;
- `brushlabels` in Label Studio's RLE: a mask of the image's size;
- `keypointlabels`: the points of one annotation make one keypoint set, named
  after the project's skeleton that has them;
- `labels`: a text span (with `text`, or on a text task), else a time segment;
- `textarea`: a transcription, timed when it has `start` and `end`.

Other types (ratings, taxonomies, relations, ...) are counted and left out.
A task's media is its `text`, or a file under the media root, or a URL the
server fetches.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from labelmesh.sdk.migrate.common import Label, Migration, box, classification, find_media, polygon
from labelmesh.sdk.migrate.masks import brush_pixels, mask, runs_of
from labelmesh.sdk.records import UploadRecord

SOURCE = "label-studio"
MEDIA_KEYS = ("image", "audio", "video")
# Data keys LabelMesh's own Label Studio export adds; not metadata of the item.
OWN_KEYS = frozenset({"labelmesh_item_id", "labelmesh_media_key", "metadata"})


def read(
    path: str | Path,
    media_root: str | Path | None = None,
    skeletons: Mapping[str, Sequence[str]] | None = None,
) -> Migration:
    """The tasks of an export file; media paths are looked up under
    `media_root` (by default the file's folder). `skeletons` maps a keypoint
    class to its keypoint names."""
    export = Path(path)
    tasks = json.loads(export.read_text(encoding="utf-8"))
    if isinstance(tasks, dict):
        tasks = [tasks]
    root = Path(media_root) if media_root is not None else export.parent
    migration = Migration()
    reader = Reader(root, dict(skeletons or {}), migration)
    for task in tasks:
        record = reader.task(task)
        if record is not None:
            migration.records.append(record)
    return migration


class Reader:
    def __init__(
        self, root: Path, skeletons: dict[str, Sequence[str]], migration: Migration
    ) -> None:
        self._root = root
        self._skeletons = skeletons
        self._migration = migration

    def task(self, task: Mapping[str, Any]) -> UploadRecord | None:
        task_id = str(task.get("id", len(self._migration.records)))
        data: Mapping[str, Any] = task.get("data", {})
        content = self._content(task_id, data)
        if content is None:
            return None
        is_text = "text" in content
        annotations = [
            self._annotation(a, is_text)
            for a in task.get("annotations", [])
            if not a.get("was_cancelled")
        ]
        predictions = [self._prediction(p, is_text) for p in task.get("predictions", [])]
        return UploadRecord(
            f"{SOURCE}:{task_id}",
            metadata=metadata_of(task_id, data),
            annotations=[a for a in annotations if a["labels"]],
            predictions=[p for p in predictions if p["labels"]],
            source=SOURCE,
            **content,
        )

    def _content(self, task_id: str, data: Mapping[str, Any]) -> dict[str, Any] | None:
        if isinstance(data.get("text"), str):
            return {"text": data["text"]}
        reference = next((data[k] for k in MEDIA_KEYS if isinstance(data.get(k), str)), None)
        if reference is None:
            self._migration.skipped.append(f"task {task_id}: no text, image, audio or video")
            return None
        if reference.startswith(("http://", "https://")):
            return {"url": reference, "source_uri": reference}
        if "://" in reference:
            self._migration.skipped.append(
                f"task {task_id}: its media {reference} is in a bucket; sync the bucket first"
            )
            return None
        found = find_media(reference, self._root)
        if found is None:
            self._migration.skipped.append(
                f"task {task_id}: {reference} is not under the media root {self._root}"
            )
            return None
        return {"path": str(found), "source_uri": reference}

    def _annotation(self, annotation: Mapping[str, Any], is_text: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"labels": self._labels(annotation.get("result", []), is_text)}
        author = annotation.get("created_username") or annotation.get("completed_by")
        if isinstance(author, dict):
            author = author.get("email") or author.get("id")
        if author not in (None, ""):
            body["annotator"] = str(author)
        if annotation.get("created_at"):
            body["created_at"] = timestamp(str(annotation["created_at"]))
        if annotation.get("id") is not None:
            body["origin_id"] = str(annotation["id"])
        return body

    def _prediction(self, prediction: Mapping[str, Any], is_text: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"labels": self._labels(prediction.get("result", []), is_text)}
        if prediction.get("score") is not None:
            body["score"] = float(prediction["score"])
        if prediction.get("model_version"):
            body["model_version"] = str(prediction["model_version"])
        if prediction.get("id") is not None:
            body["origin_id"] = str(prediction["id"])
        return body

    def _labels(self, results: Sequence[Mapping[str, Any]], is_text: bool) -> list[Label]:
        labels: list[Label] = []
        keypoints: list[dict[str, Any]] = []
        for result in results:
            kind = str(result.get("type", ""))
            value: Mapping[str, Any] = result.get("value", {})
            made = self._result(kind, value, result, is_text, keypoints)
            if made is None:
                self._migration.unsupported[kind] += 1
                continue
            for label in made:
                if "score" in result:
                    label["confidence"] = float(result["score"])
                labels.append(label)
        if keypoints:
            labels.append(
                {"keypoints": {"label": self._skeleton_of(keypoints), "points": keypoints}}
            )
        return labels

    def _result(
        self,
        kind: str,
        value: Mapping[str, Any],
        result: Mapping[str, Any],
        is_text: bool,
        keypoints: list[dict[str, Any]],
    ) -> list[Label] | None:
        if kind == "choices":
            return [classification(str(choice)) for choice in value.get("choices", [])]
        if kind == "textarea":
            transcription: dict[str, Any] = {"text": " ".join(value.get("text", []))}
            if "start" in value and "end" in value:
                transcription |= {"start_seconds": value["start"], "end_seconds": value["end"]}
            return [{"transcription": transcription}]
        if kind == "labels":
            name = first(value.get("labels"))
            if "text" in value or is_text:
                span = {"label": name, "start": int(value["start"]), "end": int(value["end"])}
                return [{"text_span": span | {"text": str(value.get("text", ""))}}]
            segment = {"label": name, "start_seconds": value["start"], "end_seconds": value["end"]}
            return [{"time_segment": segment}]
        width, height = result.get("original_width"), result.get("original_height")
        if kind not in IMAGE_KINDS:
            return None
        if not width or not height:
            self._migration.unsupported[f"{kind} without original_width/height"] += 1
            return []
        sx, sy = float(width) / 100, float(height) / 100
        if kind == "rectanglelabels":
            return [rectangle(value, sx, sy)]
        if kind == "polygonlabels":
            points = [(float(x) * sx, float(y) * sy) for x, y in value.get("points", [])]
            return [polygon(first(value.get("polygonlabels")), points)]
        if kind == "brushlabels":
            if value.get("format", "rle") != "rle":
                return None
            pixels = brush_pixels(value["rle"], int(width), int(height))
            return [mask(first(value.get("brushlabels")), int(width), int(height), runs_of(pixels))]
        keypoints.append(
            {
                "name": first(value.get("keypointlabels")),
                "position": {"x": float(value["x"]) * sx, "y": float(value["y"]) * sy},
                "visibility": 0.0 if value.get("hidden") else 1.0,
            }
        )
        return []

    def _skeleton_of(self, keypoints: list[dict[str, Any]]) -> str:
        names = {point["name"] for point in keypoints}
        for label, skeleton in self._skeletons.items():
            if names <= set(skeleton):
                return label
        return str(keypoints[0]["name"])


IMAGE_KINDS = frozenset({"rectanglelabels", "polygonlabels", "brushlabels", "keypointlabels"})


def rectangle(value: Mapping[str, Any], sx: float, sy: float) -> Label:
    """The box of a rectangle in percent, around it when rotated (Label Studio
    turns it by `rotation` degrees clockwise about its top-left corner)."""
    x, y = float(value["x"]) * sx, float(value["y"]) * sy
    width, height = float(value["width"]) * sx, float(value["height"]) * sy
    name = first(value.get("rectanglelabels"))
    angle = math.radians(float(value.get("rotation") or 0))
    if not angle:
        return box(name, x, y, width, height)
    cos, sin = math.cos(angle), math.sin(angle)
    corners = [
        (x + dx * cos - dy * sin, y + dx * sin + dy * cos)
        for dx, dy in ((0, 0), (width, 0), (width, height), (0, height))
    ]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return box(name, min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


def first(values: Any) -> str:
    return str(values[0]) if values else ""


def timestamp(value: str) -> str:
    """An RFC 3339 time; Label Studio may leave out the zone, which is UTC."""
    has_zone = value.endswith("Z") or "+" in value[10:] or value[10:].count("-") > 0
    return value if has_zone else value + "Z"


def metadata_of(task_id: str, data: Mapping[str, Any]) -> dict[str, str]:
    """The task's other scalar data, LabelMesh's own export's metadata, and the task's id."""
    metadata = {
        key: str(value)
        for key, value in data.items()
        if key not in OWN_KEYS
        and key not in MEDIA_KEYS
        and key != "text"
        and isinstance(value, (str, int, float, bool))
    }
    own = data.get("metadata")
    if isinstance(own, dict):
        metadata |= {str(k): str(v) for k, v in own.items()}
    metadata["label_studio_task_id"] = task_id
    return metadata
