"""Zero-shot text classification into the project's own classes.

Each class becomes the prompt "This text is about {class}."; a text's class
probabilities are the softmax of its cosine similarities to the prompts
(all-MiniLM-L6-v2 embeddings), scaled by SIMILARITY_SCALE.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from labelmesh.inference.models.base import Model, ModelInput, ModelSpec, Task, UndecodableInput
from labelmesh.inference.models.minilm import MODEL_VERSION, shared_encoder
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import Classification, Label

# Cosine similarities of sentence embeddings sit in a narrow band; scaling
# them before the softmax turns them into usable class probabilities.
SIMILARITY_SCALE = 20.0
MAX_CANDIDATES = 5
# Distinct class lists whose prompt embeddings stay cached (one per project, roughly).
CACHED_CLASS_LISTS = 64


def class_prompt(name: str) -> str:
    return f"This text is about {name}."


class TextEncoder(Protocol):
    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """One unit vector per text, in order."""
        ...


@dataclass(frozen=True)
class _Document:
    text: str
    classes: tuple[str, ...]


class ZeroShotClassifier(Model):
    spec = ModelSpec(
        id="all-minilm-l6-v2-zero-shot",
        version=MODEL_VERSION,
        task=Task.CLASSIFICATION,
        data_type=DataType.DATA_TYPE_TEXT,
        labels=(),
        description="Scores a text against the project's classes by sentence-embedding "
        "similarity (all-MiniLM-L6-v2); no training needed.",
    )

    def __init__(self, encoder: Callable[[], TextEncoder] = shared_encoder) -> None:
        self._load_encoder = encoder
        self._encoder: TextEncoder | None = None
        self._class_vectors = functools.lru_cache(maxsize=CACHED_CLASS_LISTS)(self._embed_classes)

    def load(self) -> None:
        self._encoder = self._load_encoder()

    def prepare(self, item: ModelInput) -> _Document:
        if not item.text.strip():
            raise UndecodableInput("text", "is blank")
        # Blank names cannot be described; repeated ones would split their probability.
        classes = tuple(dict.fromkeys(name for name in item.classes if name.strip()))
        if not classes:
            raise UndecodableInput("classes", "the project has no classes to score")
        return _Document(item.text, classes)

    def predict(self, prepared: Sequence[_Document]) -> list[list[Label]]:
        vectors = self._loaded().encode([document.text for document in prepared])
        return [
            self._ranked(vector, document.classes)
            for vector, document in zip(vectors, prepared, strict=True)
        ]

    def _loaded(self) -> TextEncoder:
        if self._encoder is None:
            raise RuntimeError(f"{self.spec.id}: load() was not called")
        return self._encoder

    def _embed_classes(self, classes: tuple[str, ...]) -> NDArray[np.float32]:
        return self._loaded().encode([class_prompt(name) for name in classes])

    def _ranked(self, vector: NDArray[np.float32], classes: tuple[str, ...]) -> list[Label]:
        logits = SIMILARITY_SCALE * (self._class_vectors(classes) @ vector)
        weights = np.exp(logits - logits.max())
        probabilities = weights / weights.sum()
        best = np.argsort(-probabilities)[:MAX_CANDIDATES]
        return [
            Label(
                classification=Classification(label=classes[i]),
                confidence=float(probabilities[i]),
            )
            for i in best
        ]
