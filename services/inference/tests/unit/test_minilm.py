import numpy as np

from labelmesh.inference.domain import class_prompt, zero_shot
from labelmesh.inference.models.minilm import MiniLMEncoder

CLASSES = ["sports", "politics", "technology"]


def test_embeddings_are_unit_vectors_and_independent_of_batch_padding() -> None:
    encoder = MiniLMEncoder()
    alone = encoder.encode(["a short sentence"])
    padded = encoder.encode(["a short sentence", "a much longer sentence that forces padding " * 5])
    assert alone.shape == (1, 384)
    assert np.allclose(np.linalg.norm(padded, axis=1), 1.0, atol=1e-5)
    assert np.allclose(alone[0], padded[0], atol=1e-5)


def test_zero_shot_puts_headlines_in_their_class() -> None:
    encoder = MiniLMEncoder()
    headlines = [
        "The home team won the championship final in overtime",
        "Parliament passed the budget after a long debate",
        "The new smartphone ships with a faster chip",
    ]
    ranked = zero_shot(
        encoder.encode(headlines), encoder.encode([class_prompt(c) for c in CLASSES]), CLASSES
    )
    assert [labels[0].classification.label for labels in ranked] == CLASSES
    assert all(labels[0].confidence > 0.5 for labels in ranked)
