"""F1 of labelled text spans, exact and by character overlap."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from labelmesh.review.consensus._labels import geometry_of
from labelmesh.v1.geometry_pb2 import Label


@dataclass(frozen=True, order=True)
class Span:
    """A labelled span of text: class name and character offsets [start, end)."""

    label: str
    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"span offsets need 0 <= start <= end, got {self.start}, {self.end}")


def span_from_label(label: Label) -> Span:
    span = geometry_of(label, "text_span")
    return Span(span.label, span.start, span.end)


def span_exact_f1(spans_a: Collection[Span], spans_b: Collection[Span]) -> float:
    """F1 of exact matches (same label, start and end): 2 |A & B| / (|A| + |B|).

    Repeated spans count once. 1 when neither side has a span.
    """
    a, b = set(spans_a), set(spans_b)
    if not a and not b:
        return 1.0
    return 2 * len(a & b) / (len(a) + len(b))


def span_overlap_f1(spans_a: Collection[Span], spans_b: Collection[Span]) -> float:
    """Character-level F1 with labels: 2 |C_A & C_B| / (|C_A| + |C_B|).

    C_X is the set of (label, character offset) pairs that X's spans cover, so partial overlaps
    earn partial credit and characters covered twice by one side count once. Characters rather
    than tokens keep it independent of a tokenizer. 1 when neither side covers a character.
    """
    covered_a, covered_b = _covered_by_label(spans_a), _covered_by_label(spans_b)
    total = sum(_length(runs) for runs in covered_a.values()) + sum(
        _length(runs) for runs in covered_b.values()
    )
    if total == 0:
        return 1.0
    shared = sum(
        _shared_length(runs, covered_b[label])
        for label, runs in covered_a.items()
        if label in covered_b
    )
    return 2 * shared / total


def _covered_by_label(spans: Collection[Span]) -> dict[str, list[tuple[int, int]]]:
    """Each label's covered characters as sorted, disjoint [start, end) runs."""
    by_label: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for span in sorted(spans):
        if span.start == span.end:
            continue
        runs = by_label[span.label]
        if runs and span.start <= runs[-1][1]:
            runs[-1] = (runs[-1][0], max(runs[-1][1], span.end))
        else:
            runs.append((span.start, span.end))
    return by_label


def _length(runs: list[tuple[int, int]]) -> int:
    return sum(end - start for start, end in runs)


def _shared_length(runs_a: list[tuple[int, int]], runs_b: list[tuple[int, int]]) -> int:
    shared, i, j = 0, 0, 0
    while i < len(runs_a) and j < len(runs_b):
        (start_a, end_a), (start_b, end_b) = runs_a[i], runs_b[j]
        shared += max(0, min(end_a, end_b) - max(start_a, start_b))
        if end_a < end_b:
            i += 1
        else:
            j += 1
    return shared
