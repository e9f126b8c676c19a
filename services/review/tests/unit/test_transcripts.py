"""Word and character error rates of transcriptions."""

import math

import numpy as np
import pytest

from labelmesh.review.consensus.transcripts import (
    character_error_rate,
    edit_distance,
    normalize_transcript,
    transcript_of,
    word_error_rate,
)
from labelmesh.v1.geometry_pb2 import Label, Transcription


def test_word_error_rate_of_known_sentence_pairs() -> None:
    assert word_error_rate("the cat sat on the mat", "the cat sat on the hat") == pytest.approx(
        1 / 6
    )
    assert word_error_rate("one two three four five", "one two tree four five") == 0.2
    assert word_error_rate("a b c", "a c") == pytest.approx(1 / 3)
    assert word_error_rate("a b c", "a b c d e f") == 1.0
    assert word_error_rate("The cat, it SAT!", "the cat it sat") == 0.0


def test_character_error_rate() -> None:
    assert character_error_rate("kitten", "sitting") == pytest.approx(3 / 6)
    assert character_error_rate("ab cd", "abcd") == pytest.approx(1 / 5)


def test_error_rates_of_empty_texts() -> None:
    assert word_error_rate("", "") == 0.0
    assert word_error_rate("?!", "") == 0.0
    assert math.isnan(word_error_rate("", "words"))
    assert word_error_rate("some words", "") == 1.0


def test_normalize_transcript() -> None:
    assert (
        normalize_transcript("  Don't   STOP—now, \uff2d\uff29\uff33\uff33. Ärger ")
        == "dont stopnow miss ärger"
    )
    assert normalize_transcript("50% of $3 + 4") == "50 of $3 + 4"


def _reference_levenshtein(a: list[int], b: list[int]) -> int:
    table = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i][j] = min(
                table[i - 1][j] + 1,
                table[i][j - 1] + 1,
                table[i - 1][j - 1] + (a[i - 1] != b[j - 1]),
            )
    return table[-1][-1]


def test_edit_distance_matches_the_textbook_recurrence() -> None:
    rng = np.random.default_rng(2)
    for _ in range(300):
        alphabet = int(rng.integers(1, 6))
        a = rng.integers(0, alphabet, int(rng.integers(0, 15))).tolist()
        b = rng.integers(0, alphabet, int(rng.integers(0, 15))).tolist()
        assert edit_distance(a, b) == _reference_levenshtein(a, b)
    # Longer than a machine word, so that carries cross 64-bit boundaries.
    for _ in range(5):
        a = rng.integers(0, 3, int(rng.integers(60, 200))).tolist()
        b = rng.integers(0, 3, int(rng.integers(60, 200))).tolist()
        assert edit_distance(a, b) == _reference_levenshtein(a, b)
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance(["a", "b"], []) == 2


def test_transcript_of() -> None:
    assert transcript_of(Label(transcription=Transcription(text="hello"))) == "hello"
