"""Person segmentation with MediaPipe's selfie segmentation model.

The general (square input) model ships inside the `mediapipe` 0.10.21 wheel.
It gives every pixel a probability of belonging to a person; pixels above
one half form a single "person" mask covering everyone in the image.
"""

from __future__ import annotations

from typing import Any

import mediapipe as mp
import numpy as np

from labelmesh.inference.models.base import ModelSpec, Task
from labelmesh.inference.models.images import (
    PerImageModel,
    RGBImage,
    encode_mask_rle,
    unit_interval,
)
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import Label, Mask

THRESHOLD = 0.5
GENERAL_MODEL = 0

SPEC = ModelSpec(
    id="mediapipe-selfie-segmentation",
    version="0.10.21-general",
    task=Task.SEGMENTATION,
    data_type=DataType.DATA_TYPE_IMAGE,
    labels=("person",),
    description="MediaPipe selfie segmentation: one mask of the people in an image.",
)


class PersonSegmenter(PerImageModel):
    """One "person" mask the size of the image, or no label when nobody is found.

    Its confidence is the mean probability of the pixels inside the mask, so
    always above THRESHOLD: high when the person's outline is clear-cut.
    """

    spec = SPEC

    def _build_engine(self) -> Any:
        return mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=GENERAL_MODEL)

    def _label(self, engine: Any, image: RGBImage) -> list[Label]:
        probability = np.asarray(engine.process(image).segmentation_mask, dtype=np.float32)
        mask = probability > THRESHOLD
        if not mask.any():
            return []
        height, width = mask.shape
        return [
            Label(
                mask=Mask(label="person", width=width, height=height, counts=encode_mask_rle(mask)),
                confidence=unit_interval(float(probability[mask].mean())),
            )
        ]
