"""Zero-shot classification and the auto-accept policy. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from labelmesh.v1.geometry_pb2 import Classification, Label

# Cosine similarities of sentence embeddings sit in a narrow band; scaling
# them before the softmax turns them into usable class probabilities.
SIMILARITY_SCALE = 20.0


def class_prompt(name: str) -> str:
    return f"This text is about {name}."


def zero_shot(
    documents: NDArray[np.float32], classes: NDArray[np.float32], names: Sequence[str]
) -> list[list[Label]]:
    """Class probabilities per document, most likely first.

    `documents` and `classes` hold unit-length embeddings, one per row.
    """
    logits = SIMILARITY_SCALE * (documents @ classes.T)
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    ranked = []
    for row in probabilities:
        order = np.argsort(-row)
        ranked.append(
            [
                Label(classification=Classification(label=names[i]), confidence=float(row[i]))
                for i in order
            ]
        )
    return ranked


def auto_accepts(confidence: float, threshold: float) -> bool:
    """A prediction at or above the project's threshold needs no human."""
    return confidence >= threshold
