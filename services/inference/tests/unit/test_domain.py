import numpy as np
import pytest

from labelmesh.inference.domain import auto_accepts, zero_shot


def unit(rows: list[list[float]]) -> np.ndarray:
    array = np.array(rows, dtype=np.float32)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def test_zero_shot_ranks_the_closest_class_first_with_probabilities() -> None:
    classes = unit([[1, 0], [0, 1]])
    ranked = zero_shot(unit([[0.9, 0.1], [0.2, 0.8]]), classes, ["a", "b"])
    assert [lb.classification.label for lb in ranked[0]] == ["a", "b"]
    assert [lb.classification.label for lb in ranked[1]] == ["b", "a"]
    for labels in ranked:
        assert sum(lb.confidence for lb in labels) == pytest.approx(1.0, abs=1e-6)
        assert labels[0].confidence > labels[1].confidence


def test_threshold_is_inclusive() -> None:
    assert auto_accepts(0.9, 0.9)
    assert not auto_accepts(0.89, 0.9)
