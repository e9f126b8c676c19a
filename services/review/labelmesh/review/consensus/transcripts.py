"""Word and character error rates of transcriptions."""

from __future__ import annotations

import math
import unicodedata
from collections import defaultdict
from collections.abc import Hashable, Sequence

from labelmesh.review.consensus._labels import geometry_of
from labelmesh.v1.geometry_pb2 import Label


def normalize_transcript(text: str) -> str:
    """Text as the error rates compare it.

    NFKC-normalised, case-folded, every Unicode punctuation character (category P*) deleted, so
    "Don't!" reads "dont" and "e-mail" reads "email", and whitespace runs collapsed to one
    space. Symbols (category S*) such as "$" or "+" are kept; "%" is punctuation (Po).
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(ch for ch in folded if not unicodedata.category(ch).startswith("P"))
    return " ".join(kept.split())


def edit_distance(reference: Sequence[Hashable], hypothesis: Sequence[Hashable]) -> int:
    """Levenshtein distance: the fewest substitutions, deletions and insertions between two
    sequences.

    Computed with Myers' bit-parallel algorithm in Hyyrö's form for edit distance (Hyyrö 2001):
    a column of the dynamic-programming table is kept as two bit vectors of +1 and -1 vertical
    steps, and a step along the other sequence costs a few integer operations, whatever the
    length of the first.
    """
    # The longer sequence goes into the bit vectors; Python ints have no width limit.
    pattern, text = (
        (reference, hypothesis) if len(reference) >= len(hypothesis) else (hypothesis, reference)
    )
    if not text:
        return len(pattern)
    full = (1 << len(pattern)) - 1
    last = 1 << (len(pattern) - 1)
    positions: dict[Hashable, int] = defaultdict(int)
    for i, token in enumerate(pattern):
        positions[token] |= 1 << i
    plus, minus, distance = full, 0, len(pattern)
    for token in text:
        equal = positions.get(token, 0)
        vertical = equal | minus
        horizontal = (((equal & plus) + plus) ^ plus) | equal
        horizontal_plus = minus | (~(horizontal | plus) & full)
        horizontal_minus = plus & horizontal
        if horizontal_plus & last:
            distance += 1
        elif horizontal_minus & last:
            distance -= 1
        # Row 0 of the table counts up by one per step (D[0][j] = j): shift in a +1.
        horizontal_plus = ((horizontal_plus << 1) | 1) & full
        horizontal_minus = (horizontal_minus << 1) & full
        plus = horizontal_minus | (~(vertical | horizontal_plus) & full)
        minus = horizontal_plus & vertical
    return distance


def _error_rate(reference: Sequence[Hashable], hypothesis: Sequence[Hashable]) -> float:
    if not reference:
        return 0.0 if not hypothesis else math.nan
    return edit_distance(reference, hypothesis) / len(reference)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER = (substitutions + deletions + insertions) / words in the reference.

    Both texts pass through `normalize_transcript` first. 0 when both are empty, NaN when only
    the reference is.
    """
    return _error_rate(
        normalize_transcript(reference).split(), normalize_transcript(hypothesis).split()
    )


def character_error_rate(reference: str, hypothesis: str) -> float:
    """CER: as `word_error_rate` over the characters of the normalised texts, spaces included."""
    return _error_rate(normalize_transcript(reference), normalize_transcript(hypothesis))


def transcript_of(label: Label) -> str:
    return str(geometry_of(label, "transcription").text)
