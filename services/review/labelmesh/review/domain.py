"""Agreement scoring and the review decision. Pure: no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from labelmesh.core.errors import InvalidField
from labelmesh.review.consensus import (
    keypoints_oks,
    polygon_from_label,
    polygon_iou,
    word_error_rate,
)
from labelmesh.v1.events_pb2 import ReviewDecision
from labelmesh.v1.geometry_pb2 import BoundingBox, Keypoints, Label, TextSpan


def check_labels(labels: Sequence[Label], classes: set[str], at: str = "labels") -> None:
    """Final or known labels must use the project's classes: raises InvalidField naming the
    first label that does not (review trusts annotation's validation of everything else)."""
    if not labels:
        raise InvalidField(at, "at least one label is required")
    for index, label in enumerate(labels):
        kind = label.WhichOneof("kind")
        if kind is None:
            raise InvalidField(f"{at}[{index}]", "has no geometry")
        if kind != "transcription" and getattr(label, kind).label not in classes:
            name = getattr(label, kind).label
            raise InvalidField(f"{at}[{index}].{kind}.label", f"{name!r} is not a class")


def box_iou(a: BoundingBox, b: BoundingBox) -> float:
    """Intersection over union of two boxes."""
    width = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    height = min(a.y + a.height, b.y + b.height) - max(a.y, b.y)
    if width <= 0 or height <= 0:
        return 0.0
    intersection = width * height
    return intersection / (a.width * a.height + b.width * b.height - intersection)


def span_overlap(a: TextSpan, b: TextSpan) -> float:
    """Character-level F1 of two spans (equal to their Dice coefficient)."""
    overlap = max(0, min(a.end, b.end) - max(a.start, b.start))
    total = (a.end - a.start) + (b.end - b.start)
    return 2 * overlap / total if total else 0.0


def interval_iou(a_start: float, a_end: float, b_start: float, b_end: float) -> float:
    """Intersection over union of two intervals, such as time segments."""
    overlap = max(0.0, min(a_end, b_end) - max(a_start, b_start))
    union = (a_end - a_start) + (b_end - b_start) - overlap
    return overlap / union if union > 0 else 0.0


def _keypoints_similarity(a: Keypoints, b: Keypoints) -> float:
    """OKS both ways, averaged; 0 where undefined (no placed keypoint, no area)."""
    try:
        both = (keypoints_oks(a, b) + keypoints_oks(b, a)) / 2
    except ValueError:
        return 0.0
    return 0.0 if math.isnan(both) else both


def _pair_score(a: Label, b: Label) -> float:
    kind = a.WhichOneof("kind")
    if kind is None or kind != b.WhichOneof("kind"):
        return 0.0
    if kind == "transcription":  # no class to compare: 1 - WER against b
        rate = word_error_rate(b.transcription.text, a.transcription.text)
        return 0.0 if math.isnan(rate) else max(0.0, 1.0 - rate)
    ga, gb = getattr(a, kind), getattr(b, kind)
    if ga.label != gb.label:
        return 0.0
    if kind == "bounding_box":
        return box_iou(ga, gb)
    if kind == "text_span":
        return span_overlap(ga, gb)
    if kind == "time_segment":
        return interval_iou(ga.start_seconds, ga.end_seconds, gb.start_seconds, gb.end_seconds)
    if kind == "polygon":
        try:
            return polygon_iou(polygon_from_label(a), polygon_from_label(b))
        except ValueError:  # fewer than three vertices: no area to compare
            return 0.0
    if kind == "keypoints":
        return _keypoints_similarity(ga, gb)
    return 1.0


def agreement(labels: Sequence[Label], reference: Sequence[Label]) -> float | None:
    """How far an annotation agrees with a reference, in [0, 1]; None without a reference.

    Each reference label is matched to its best-scoring unused label; unmatched
    labels on either side count as disagreement.
    """
    if not reference:
        return None
    unused = list(labels)
    total = 0.0
    for ref in reference:
        scores = [_pair_score(candidate, ref) for candidate in unused]
        if scores and max(scores) > 0:
            best = max(range(len(scores)), key=scores.__getitem__)
            total += scores[best]
            unused.pop(best)
    return total / max(len(reference), len(labels))


@dataclass(frozen=True)
class Verdict:
    decision: ReviewDecision
    agreement: float | None
    quality_score: float
    reason: str


def review_human(
    labels: Sequence[Label], suggestion: Sequence[Label], min_agreement: float
) -> Verdict:
    """Approve a human annotation unless it disagrees with the model more than allowed."""
    score = agreement(labels, suggestion)
    if score is None:
        return Verdict(
            ReviewDecision.REVIEW_DECISION_APPROVED, None, 1.0, "no model suggestion to compare"
        )
    if score >= min_agreement:
        return Verdict(
            ReviewDecision.REVIEW_DECISION_APPROVED,
            score,
            score,
            f"agreement {score:.2f} with the suggestion meets {min_agreement:.2f}",
        )
    return Verdict(
        ReviewDecision.REVIEW_DECISION_REJECTED,
        score,
        score,
        f"agreement {score:.2f} with the suggestion is below {min_agreement:.2f}",
    )


def review_auto_accepted(labels: Sequence[Label], threshold: float) -> Verdict:
    """A model label that met the project's threshold is approved; its score is its confidence."""
    confidence = min((label.confidence for label in labels), default=0.0)
    return Verdict(
        ReviewDecision.REVIEW_DECISION_APPROVED,
        1.0,
        confidence,
        f"auto-accepted: confidence {confidence:.2f} meets threshold {threshold:.2f}",
    )
