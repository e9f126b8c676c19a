"""Body pose with MediaPipe Pose (BlazePose GHUM, full model).

Only the full model (`model_complexity=1`) ships inside the `mediapipe`
0.10.21 wheel; the lite and heavy ones are downloaded on first use, which
fails offline. Static image mode runs the person detector on every image
instead of tracking between frames.
"""

from __future__ import annotations

from typing import Any

import mediapipe as mp

from labelmesh.inference.models.base import ModelSpec, Task
from labelmesh.inference.models.images import PerImageModel, RGBImage, unit_interval
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import Keypoint, Keypoints, Label, Point

FULL_MODEL = 1
# "nose", "left_eye_inner", ... "right_foot_index", in the model's order.
LANDMARKS = tuple(landmark.name.lower() for landmark in mp.solutions.pose.PoseLandmark)

SPEC = ModelSpec(
    id="mediapipe-pose",
    version="0.10.21-full",
    task=Task.KEYPOINTS,
    data_type=DataType.DATA_TYPE_IMAGE,
    labels=("person",),
    description="MediaPipe Pose: 33 body landmarks of the most prominent person.",
)


class PoseEstimator(PerImageModel):
    """The 33 landmarks of the most prominent person, or no label when none is found.

    Positions are in pixels of the upright image and may fall outside it: the
    model places body parts that are out of frame, with a low visibility.
    The confidence is the mean visibility of the 33 landmarks, that is how
    much of the skeleton the model sees; a head-and-shoulders photo scores
    about one half even when every visible point is right.
    """

    spec = SPEC

    def _build_engine(self) -> Any:
        return mp.solutions.pose.Pose(
            static_image_mode=True, model_complexity=FULL_MODEL, enable_segmentation=False
        )

    def _label(self, engine: Any, image: RGBImage) -> list[Label]:
        found = engine.process(image).pose_landmarks
        if found is None:
            return []
        height, width = image.shape[:2]
        points = [
            Keypoint(
                name=name,
                position=Point(x=float(landmark.x) * width, y=float(landmark.y) * height),
                visibility=unit_interval(float(landmark.visibility)),
            )
            for name, landmark in zip(LANDMARKS, found.landmark, strict=True)
        ]
        confidence = sum(point.visibility for point in points) / len(points)
        return [Label(keypoints=Keypoints(label="person", points=points), confidence=confidence)]
