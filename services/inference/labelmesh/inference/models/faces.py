"""Face detection with MediaPipe's full-range BlazeFace model.

The model ships inside the `mediapipe` 0.10.21 wheel (its legacy
`mp.solutions` API). Each face becomes a bounding box and a six-point
keypoint set, both labelled "face" and scored with the detection score.
"""

from __future__ import annotations

from typing import Any

import mediapipe as mp

from labelmesh.inference.models.base import ModelSpec, Task
from labelmesh.inference.models.images import PerImageModel, RGBImage, unit_interval
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import BoundingBox, Keypoint, Keypoints, Label, Point

FULL_RANGE_MODEL = 1
# Low on purpose: the platform applies each project's own confidence floor.
MIN_DETECTION_CONFIDENCE = 0.3
# In MediaPipe's order (its FaceKeyPoint enum); sides are the person's own.
FACE_KEYPOINTS = (
    "right_eye",
    "left_eye",
    "nose_tip",
    "mouth_center",
    "right_ear_tragion",
    "left_ear_tragion",
)

SPEC = ModelSpec(
    id="mediapipe-face-detection",
    version="0.10.21-full-range",
    task=Task.DETECTION,
    data_type=DataType.DATA_TYPE_IMAGE,
    labels=("face",),
    description="MediaPipe BlazeFace full-range face detector: a box and six keypoints per face.",
)


class FaceDetector(PerImageModel):
    """Boxes and keypoints of faces, in pixels of the upright image.

    Boxes are clipped to the image. Keypoints keep the model's positions; one
    that falls outside the image gets visibility 0, the others 1, because the
    model gives no per-point visibility.
    """

    spec = SPEC

    def _build_engine(self) -> Any:
        return mp.solutions.face_detection.FaceDetection(
            model_selection=FULL_RANGE_MODEL, min_detection_confidence=MIN_DETECTION_CONFIDENCE
        )

    def _label(self, engine: Any, image: RGBImage) -> list[Label]:
        height, width = image.shape[:2]
        labels: list[Label] = []
        for detection in engine.process(image).detections or ():
            score = unit_interval(float(detection.score[0]))
            location = detection.location_data
            box = _clipped_box(location.relative_bounding_box, width, height)
            if box is None:
                continue
            points = [
                _keypoint(name, float(point.x) * width, float(point.y) * height, width, height)
                for name, point in zip(FACE_KEYPOINTS, location.relative_keypoints, strict=True)
            ]
            labels.append(Label(bounding_box=box, confidence=score))
            labels.append(Label(keypoints=Keypoints(label="face", points=points), confidence=score))
        return labels


def _clipped_box(relative: Any, width: int, height: int) -> BoundingBox | None:
    left = _clip(float(relative.xmin) * width, width)
    top = _clip(float(relative.ymin) * height, height)
    right = _clip((float(relative.xmin) + float(relative.width)) * width, width)
    bottom = _clip((float(relative.ymin) + float(relative.height)) * height, height)
    if right <= left or bottom <= top:
        return None
    return BoundingBox(label="face", x=left, y=top, width=right - left, height=bottom - top)


def _clip(value: float, upper: int) -> float:
    return min(max(value, 0.0), float(upper))


def _keypoint(name: str, x: float, y: float, width: int, height: int) -> Keypoint:
    inside = 0.0 <= x <= width and 0.0 <= y <= height
    return Keypoint(name=name, position=Point(x=x, y=y), visibility=1.0 if inside else 0.0)
