import numpy as np

from labelmesh.inference.models.minilm import MiniLMEncoder


def test_embeddings_are_unit_vectors_and_independent_of_batch_padding() -> None:
    encoder = MiniLMEncoder()
    alone = encoder.encode(["a short sentence"])
    padded = encoder.encode(["a short sentence", "a much longer sentence that forces padding " * 5])
    assert alone.shape == (1, 384)
    assert np.allclose(np.linalg.norm(padded, axis=1), 1.0, atol=1e-5)
    assert np.allclose(alone[0], padded[0], atol=1e-5)
