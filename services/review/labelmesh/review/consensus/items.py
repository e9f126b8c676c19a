"""From several annotators' labels of one item to its consensus labels. Pure: no I/O.

A consensus label's confidence is the share of the vote weight behind it.

Labels are grouped by geometry kind and each kind gets the measure of its field:
votes for classes, IoU matching for boxes, polygons, spans and time segments,
OKS for keypoints, WER for transcriptions. The item's agreement is the mean of
its kinds' agreements.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from labelmesh.review.consensus.geometry import (
    Box,
    ShapeConsensus,
    box_consensus,
    box_from_label,
    polygon_consensus,
    polygon_from_label,
)
from labelmesh.review.consensus.keypoints import keypoints_consensus
from labelmesh.review.consensus.transcripts import transcript_of, word_error_rate
from labelmesh.review.consensus.votes import weighted_vote
from labelmesh.v1.geometry_pb2 import BoundingBox, Label, Point, Polygon, TextSpan, TimeSegment

# A cluster of shapes becomes a consensus label when more than this share of the
# vote weight drew it.
MAJORITY = 0.5


@dataclass(frozen=True)
class ItemConsensus:
    labels: list[Label]
    agreement: float  # in [0, 1]
    tied: bool  # a class vote ended in a tie, broken by class order


@dataclass(frozen=True)
class _KindResult:
    labels: list[Label]
    agreement: float
    tied: bool = False


def item_consensus(
    annotations: Sequence[Sequence[Label]], weights: Sequence[float]
) -> ItemConsensus:
    """Consensus of annotations[a], annotator a's labels, with vote weights[a] (>= 0)."""
    if len(annotations) != len(weights):
        raise ValueError(f"{len(weights)} weights for {len(annotations)} annotations")
    if not annotations:
        raise ValueError("consensus needs at least one annotation")
    weights = [w if w > 0 else 0.0 for w in weights]
    if sum(weights) == 0:
        weights = [1.0] * len(annotations)
    kinds = sorted({label.WhichOneof("kind") or "" for labels in annotations for label in labels})
    results = []
    for kind in kinds:
        per_annotator = [
            [lb for lb in labels if lb.WhichOneof("kind") == kind] for labels in annotations
        ]
        results.append(_MERGERS.get(kind, _exact_vote)(per_annotator, weights))
    if not results:
        return ItemConsensus([], 1.0, False)
    return ItemConsensus(
        [label for result in results for label in result.labels],
        sum(r.agreement for r in results) / len(results),
        any(r.tied for r in results),
    )


def _classification(per_annotator: list[list[Label]], weights: Sequence[float]) -> _KindResult:
    """One class per annotator; an annotator without one votes for "none"."""
    votes = [labels[0].classification.label if labels else "" for labels in per_annotator]
    result = weighted_vote(votes, weights)
    labels = (
        []
        if result.winner == ""
        else [Label(classification={"label": str(result.winner)}, confidence=result.share)]
    )
    return _KindResult(labels, result.share, result.tied)


def _exact_vote(per_annotator: list[list[Label]], weights: Sequence[float]) -> _KindResult:
    """Labels with no geometry to match (masks): each distinct label wins with a majority."""
    total = sum(weights)
    support: dict[bytes, float] = {}
    sets = [{_geometry_key(label) for label in labels} for labels in per_annotator]
    for keys, weight in zip(sets, weights, strict=True):
        for key in keys:
            support[key] = support.get(key, 0.0) + weight
    kept = []
    for key, weight in sorted(support.items()):
        if weight / total > MAJORITY:
            label = Label.FromString(key)
            label.confidence = weight / total
            kept.append(label)
    pairs = list(itertools.combinations(sets, 2))
    agreement = (
        sum(len(a & b) / len(a | b) if a | b else 1.0 for a, b in pairs) / len(pairs)
        if pairs
        else 1.0
    )
    return _KindResult(kept, agreement)


def _geometry_key(label: Label) -> bytes:
    """The label's geometry alone: who drew it and how sure they were do not count."""
    bare = Label()
    kind = label.WhichOneof("kind")
    if kind is not None:
        getattr(bare, kind).CopyFrom(getattr(label, kind))
    key: bytes = bare.SerializeToString(deterministic=True)
    return key


def _shapes(
    convert: Callable[[Label], object],
    consensus: Callable[..., ShapeConsensus],  # type: ignore[type-arg]
    back: Callable[[object], Label],
) -> Callable[[list[list[Label]], Sequence[float]], _KindResult]:
    def merge(per_annotator: list[list[Label]], weights: Sequence[float]) -> _KindResult:
        result = consensus([[convert(label) for label in labels] for labels in per_annotator])
        total = sum(weights)
        kept = []
        for cluster in result.clusters:
            support = sum(weights[annotator] for annotator, _ in cluster.members) / total
            if support > MAJORITY:
                label = back(cluster.shape)
                label.confidence = support
                kept.append(label)
        agreement = 1.0 if math.isnan(result.agreement) else result.agreement
        return _KindResult(kept, agreement)

    return merge


def _box_label(box: object) -> Label:
    assert isinstance(box, Box)
    return Label(
        bounding_box=BoundingBox(
            label=box.label, x=box.x, y=box.y, width=box.width, height=box.height
        )
    )


def _polygon_label(polygon: object) -> Label:
    points = [Point(x=x, y=y) for x, y in polygon.points]  # type: ignore[attr-defined]
    return Label(polygon=Polygon(label=polygon.label, points=points))  # type: ignore[attr-defined]


# Spans and time segments are intervals: a box of height 1 on a line has their IoU.
def _span_box(label: Label) -> Box:
    span = label.text_span
    return Box(span.label, span.start, 0.0, span.end - span.start, 1.0)


def _span_label(box: object) -> Label:
    assert isinstance(box, Box)
    start = round(box.x)
    return Label(text_span=TextSpan(label=box.label, start=start, end=round(box.x + box.width)))


def _segment_box(label: Label) -> Box:
    segment = label.time_segment
    return Box(
        segment.label, segment.start_seconds, 0.0, segment.end_seconds - segment.start_seconds, 1.0
    )


def _segment_label(box: object) -> Label:
    assert isinstance(box, Box)
    return Label(
        time_segment=TimeSegment(
            label=box.label, start_seconds=box.x, end_seconds=box.x + box.width
        )
    )


def _keypoints_label(keypoints: object) -> Label:
    label = Label()
    label.keypoints.CopyFrom(keypoints)
    return label


def _transcription(per_annotator: list[list[Label]], weights: Sequence[float]) -> _KindResult:
    """The transcript with the least weighted WER to the others; agreement is 1 - mean WER."""
    texts = [" ".join(transcript_of(label) for label in labels) for labels in per_annotator]
    n = len(texts)
    if n == 1:
        return _KindResult(list(per_annotator[0]), 1.0)
    wer = [[_safe_wer(texts[i], texts[j]) if i != j else 0.0 for j in range(n)] for i in range(n)]
    best = min(range(n), key=lambda i: sum(weights[j] * wer[j][i] for j in range(n)))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    mean_wer = sum((wer[i][j] + wer[j][i]) / 2 for i, j in pairs) / len(pairs)
    return _KindResult(list(per_annotator[best]), max(0.0, 1.0 - mean_wer))


def _safe_wer(reference: str, hypothesis: str) -> float:
    rate = word_error_rate(reference, hypothesis)
    return 1.0 if math.isnan(rate) else min(rate, 1.0)


_MERGERS: dict[str, Callable[[list[list[Label]], Sequence[float]], _KindResult]] = {
    "classification": _classification,
    "bounding_box": _shapes(box_from_label, box_consensus, _box_label),
    "polygon": _shapes(polygon_from_label, polygon_consensus, _polygon_label),
    "text_span": _shapes(_span_box, box_consensus, _span_label),
    "time_segment": _shapes(_segment_box, box_consensus, _segment_label),
    "keypoints": _shapes(lambda label: label.keypoints, keypoints_consensus, _keypoints_label),
    "transcription": _transcription,
}
