from pathlib import Path

import numpy as np
import pytest

from labelmesh.inference.models.base import ModelInput
from labelmesh.inference.models.minilm import (
    MAX_LENGTH_RATIO,
    MAX_TOKENS,
    MiniLMEncoder,
    length_groups,
    shared_encoder,
)
from labelmesh.inference.models.zero_shot import ZeroShotClassifier

from .minilm_reference import NumpyMiniLM

# Short and long, truncated, punctuation, digits, emoji, other languages.
SENTENCES = [
    "ok",
    "The home team won the championship after a late goal in extra time.",
    "Parliament passed the budget after a long night of debate.",
    "The new smartphone ships with a faster chip and a better camera.",
    "A new vaccine cut hospital admissions by half",
    "yesterday i met jordan at the mall and we talked about the weather " * 30,
    "Le gouvernement a annoncé de nouvelles mesures économiques.",
    "🙂 lol!!! 12345 #hashtag @user http://example.com/x?y=1",
    "This text is about sports.",
]
CLASSES = ("sports", "politics", "technology", "health", "business", "travel")


@pytest.fixture(scope="module")
def reference() -> NumpyMiniLM:
    return NumpyMiniLM()


def test_onnx_embeddings_match_the_numpy_forward_pass(reference: NumpyMiniLM) -> None:
    exported = shared_encoder().encode(SENTENCES)
    expected = reference.encode(SENTENCES)
    cosines = (exported * expected).sum(axis=1)
    assert exported.shape == expected.shape == (len(SENTENCES), 384)
    assert cosines.min() >= 1 - 1e-3, dict(zip(SENTENCES, cosines, strict=True))


def test_zero_shot_ranks_the_classes_as_the_numpy_forward_pass(reference: NumpyMiniLM) -> None:
    exported, numpy_path = ZeroShotClassifier(), ZeroShotClassifier(lambda: reference)
    for model in (exported, numpy_path):
        model.load()
    items = [ModelInput(text=text, classes=CLASSES) for text in SENTENCES]

    def ranked(model: ZeroShotClassifier) -> list[list[str]]:
        labels = model.predict([model.prepare(item) for item in items])
        return [[label.classification.label for label in row] for row in labels]

    assert ranked(exported) == ranked(numpy_path)
    assert ranked(exported)[1][0] == "sports"


def test_a_batch_gives_each_text_the_vector_it_gets_alone() -> None:
    encoder = shared_encoder()
    # Lengths mixed and out of order, so that rows are grouped and put back.
    texts = [SENTENCES[5], SENTENCES[0], SENTENCES[2] * 8, SENTENCES[1], SENTENCES[7]]
    together = encoder.encode(texts)
    alone = np.concatenate([encoder.encode([text]) for text in texts])
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert np.allclose(together, alone, atol=1e-5)


def test_no_texts_give_no_vectors() -> None:
    assert shared_encoder().encode([]).shape == (0, 384)


def test_length_groups_cover_every_row_once_within_the_budget() -> None:
    lengths = [12, 256, 9, 40, 13, 256, 80, 11, 256, 30]
    groups = length_groups(lengths, token_budget=512)
    assert sorted(row for group in groups for row in group) == list(range(len(lengths)))
    for group in groups:
        longest = max(lengths[row] for row in group)
        assert len(group) * longest <= 512
        assert longest <= MAX_LENGTH_RATIO * min(lengths[row] for row in group)
    # Short texts travel together instead of being padded to the long ones.
    assert [2, 7, 0, 4] in groups


def test_a_text_longer_than_the_budget_gets_a_group_of_its_own() -> None:
    assert length_groups([MAX_TOKENS, 5], token_budget=100) == [[1], [0]]


def test_missing_weights_say_how_to_make_them(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="make setup"):
        MiniLMEncoder(weights=tmp_path / "absent.onnx")
