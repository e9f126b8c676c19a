"""The named pre- and postprocesses of a remote model. A preprocess turns items
into the one input tensor of each request; a postprocess turns the output
tensor of each answer into labels."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from labelmesh.inference.adapters.oip.tensors import FLOAT_TYPES, Tensor
from labelmesh.inference.adapters.oip.transport import Endpoint, RemoteModelError
from labelmesh.inference.models.base import ModelInput, UndecodableInput
from labelmesh.v1.geometry_pb2 import BoundingBox, Classification, Label

Embed = Callable[[Sequence[str]], NDArray[np.float32]]

PREPROCESSES = ("text", "text_embedding", "image_rgb", "audio_pcm")
POSTPROCESSES = ("class_probabilities", "class_label", "boxes")
# The only preprocess that sends a whole batch in one request; the others send
# one item per request, because their tensors have no batch dimension.
BATCHED_PREPROCESSES = ("text_embedding",)

MAX_CLASSIFICATIONS = 5


@dataclass(frozen=True)
class Preprocessor:
    name: str  # one of PREPROCESSES
    model_id: str
    embed: Embed | None = None

    def prepare(self, item: ModelInput) -> Any:
        if self.name in ("text", "text_embedding"):
            if not item.text.strip():
                raise UndecodableInput("text", "the item has no text")
            return item.text
        if self.name == "image_rgb":
            from labelmesh.inference.models.images import decode_image

            return decode_image(item.media)
        from labelmesh.inference.models.audio import decode_audio

        return decode_audio(item.media)

    def batches(self, prepared: Sequence[Any]) -> list[list[Any]]:
        """The prepared items of each request, in order."""
        if self.name in BATCHED_PREPROCESSES:
            return [list(prepared)] if prepared else []
        return [[one] for one in prepared]

    def to_tensor(self, input_name: str, batch: Sequence[Any]) -> Tensor:
        if self.name == "text":
            (text,) = batch
            return Tensor(input_name, "BYTES", np.asarray([text], dtype=object), "str")
        if self.name == "text_embedding":
            return Tensor(input_name, "FP32", self._embeddings(batch))
        (media,) = batch
        if self.name == "image_rgb":
            return Tensor(input_name, "UINT8", np.asarray(media, dtype=np.uint8))
        return Tensor(input_name, "FP32", np.asarray(media, dtype=np.float32).ravel())

    def _embeddings(self, texts: Sequence[str]) -> NDArray[np.float32]:
        assert self.embed is not None  # checked by validate()
        vectors = np.asarray(self.embed(texts), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise RemoteModelError(
                f"model {self.model_id!r}: the embedding of {len(texts)} texts has shape "
                f"{vectors.shape}, not ({len(texts)}, width)"
            )
        return vectors


@dataclass(frozen=True)
class Postprocessor:
    name: str  # one of POSTPROCESSES
    # The registered label names, in the order of the output's columns or indices.
    labels: tuple[str, ...]
    # Errors name the remote model and its URL.
    endpoint: Endpoint

    def to_labels(self, output: Tensor, rows: int) -> list[list[Label]]:
        """One list of labels for each of the `rows` items sent."""
        if self.name == "class_probabilities":
            return self._probabilities(output, rows)
        if self.name == "class_label":
            return self._class_labels(output, rows)
        return [self._boxes(output)]

    def _probabilities(self, output: Tensor, rows: int) -> list[list[Label]]:
        labels = self.labels
        if output.datatype not in FLOAT_TYPES:
            raise self._bad_output(output, f"is {output.datatype}, not FP16, FP32 or FP64")
        table = output.values.reshape(1, -1) if output.values.ndim == 1 else output.values
        if table.shape != (rows, len(labels)):
            raise self._bad_output(
                output,
                f"has shape {list(output.shape)} for {rows} item(s), but {len(labels)} labels "
                f"are registered ({', '.join(labels)}); expected [{rows}, {len(labels)}], "
                "one column per label in the registered order",
            )
        return [ranked_classifications(row.astype(np.float64), labels) for row in table]

    def _class_labels(self, output: Tensor, rows: int) -> list[list[Label]]:
        if output.values.size != rows:
            raise self._bad_output(
                output, f"has shape {list(output.shape)}, not one label for each of {rows} items"
            )
        return [
            [Label(classification=Classification(label=self._label_name(v)), confidence=1.0)]
            for v in output.values.ravel()
        ]

    def _label_name(self, value: Any) -> str:
        """A BYTES output is the name itself; an integer one indexes the labels."""
        if isinstance(value, str):
            return value
        return self._label_at(int(value))

    def _boxes(self, output: Tensor) -> list[Label]:
        if output.values.size == 0:
            return []
        if output.datatype == "BYTES" or output.values.ndim != 2 or output.shape[1] != 6:
            raise self._bad_output(
                output,
                f"is {output.datatype} {list(output.shape)}, not a number table [K, 6] of "
                "x, y, width, height, score, class index",
            )
        boxes = [
            Label(
                bounding_box=BoundingBox(
                    label=self._label_at(int(row[5])),
                    x=float(row[0]),
                    y=float(row[1]),
                    width=float(row[2]),
                    height=float(row[3]),
                ),
                confidence=confidence(float(row[4])),
            )
            for row in output.values
        ]
        return sorted(boxes, key=lambda box: -box.confidence)

    def _label_at(self, index: int) -> str:
        labels = self.labels
        if not 0 <= index < len(labels):
            raise self.endpoint.error(
                f"class index {index} is outside the {len(labels)} registered labels"
            )
        return labels[index]

    def _bad_output(self, output: Tensor, reason: str) -> RemoteModelError:
        return self.endpoint.error(f"output {output.name!r} {reason}")


def confidence(value: float) -> float:
    return min(max(value, 0.0), 1.0) if math.isfinite(value) else 0.0


def ranked_classifications(row: NDArray[Any], labels: Sequence[str]) -> list[Label]:
    best_first = np.argsort(-row, kind="stable")[:MAX_CLASSIFICATIONS]
    return [
        Label(
            classification=Classification(label=labels[column]),
            confidence=confidence(float(row[column])),
        )
        for column in best_first
    ]
