"""F1 of labelled text spans."""

import numpy as np
import pytest

from labelmesh.review.consensus.spans import (
    Span,
    span_exact_f1,
    span_from_label,
    span_overlap_f1,
)
from labelmesh.v1.geometry_pb2 import Label, TextSpan


def test_span_f1_with_partial_overlaps() -> None:
    a = [Span("PER", 0, 5), Span("LOC", 10, 15)]
    b = [Span("PER", 0, 5), Span("LOC", 10, 14)]
    assert span_exact_f1(a, b) == pytest.approx(2 * 1 / 4)
    assert span_overlap_f1(a, b) == pytest.approx(2 * 9 / 19)
    assert span_overlap_f1([Span("PER", 0, 4)], [Span("PER", 2, 6)]) == pytest.approx(0.5)


def test_span_f1_needs_matching_labels() -> None:
    assert span_exact_f1([Span("PER", 0, 4)], [Span("ORG", 0, 4)]) == 0.0
    assert span_overlap_f1([Span("PER", 0, 4)], [Span("ORG", 0, 4)]) == 0.0


def test_span_f1_of_empty_sides() -> None:
    assert span_exact_f1([], []) == 1.0
    assert span_overlap_f1([], []) == 1.0
    assert span_exact_f1([Span("PER", 0, 4)], []) == 0.0
    assert span_overlap_f1([], [Span("PER", 0, 4)]) == 0.0


def test_overlap_f1_matches_counting_characters() -> None:
    rng = np.random.default_rng(11)
    for _ in range(50):
        sides = []
        for _ in range(2):
            starts = rng.integers(0, 60, int(rng.integers(0, 8)))
            ends = starts + rng.integers(0, 12, starts.size)
            labels = rng.choice(["PER", "ORG"], starts.size)
            sides.append(
                [
                    Span(str(lb), int(s), int(e))
                    for lb, s, e in zip(labels, starts, ends, strict=True)
                ]
            )
        chars = [{(s.label, c) for s in side for c in range(s.start, s.end)} for side in sides]
        total = len(chars[0]) + len(chars[1])
        expected = 2 * len(chars[0] & chars[1]) / total if total else 1.0
        assert span_overlap_f1(*sides) == pytest.approx(expected)


def test_span_rejects_reversed_offsets() -> None:
    with pytest.raises(ValueError, match="start <= end"):
        Span("PER", 5, 2)


def test_span_overlap_of_two_spans_is_their_f1() -> None:
    assert span_overlap_f1([Span("", 0, 4)], [Span("", 0, 4)]) == 1.0
    assert span_overlap_f1([Span("", 0, 4)], [Span("", 2, 6)]) == pytest.approx(0.5)


def test_span_from_label() -> None:
    span = Label(text_span=TextSpan(label="PER", start=3, end=8, text="Alice"))
    assert span_from_label(span) == Span("PER", 3, 8)
