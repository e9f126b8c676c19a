"""Agreement of labels with a reference, and checks of final labels. Pure: no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from labelmesh.core.errors import InvalidField
from labelmesh.review.consensus.geometry import (
    box_from_label,
    box_iou,
    interval_iou,
    match_by_score,
    polygon_from_label,
    polygon_iou,
)
from labelmesh.review.consensus.keypoints import symmetric_oks
from labelmesh.review.consensus.spans import span_from_label, span_overlap_f1
from labelmesh.review.consensus.transcripts import word_error_rate
from labelmesh.v1.geometry_pb2 import Label


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
    # Gold and adjudicated labels have only their classes checked: a degenerate shape scores 0.
    if kind == "bounding_box":
        try:
            return box_iou(box_from_label(a), box_from_label(b))
        except ValueError:  # a negative width or height
            return 0.0
    if kind == "text_span":
        if ga.start >= ga.end or gb.start >= gb.end:  # covers no character
            return 0.0
        return span_overlap_f1([span_from_label(a)], [span_from_label(b)])
    if kind == "time_segment":
        try:
            return interval_iou(
                (ga.start_seconds, ga.end_seconds), (gb.start_seconds, gb.end_seconds)
            )
        except ValueError:  # ends before it starts
            return 0.0
    if kind == "polygon":
        try:
            return polygon_iou(polygon_from_label(a), polygon_from_label(b))
        except ValueError:  # fewer than three vertices: no area to compare
            return 0.0
    if kind == "keypoints":
        return symmetric_oks(ga, gb)
    return 1.0


def agreement(labels: Sequence[Label], reference: Sequence[Label]) -> float | None:
    """How far an annotation agrees with a reference, in [0, 1]; None without a reference.

    Labels are matched one-to-one to reference labels so that the matched pairs' total score
    is the highest (`match_by_score`); unmatched labels on either side count as disagreement.
    """
    if not reference:
        return None
    scores = np.array(
        [[_pair_score(candidate, ref) for candidate in labels] for ref in reference]
    ).reshape(len(reference), len(labels))
    total = sum(float(scores[ref, candidate]) for ref, candidate in match_by_score(scores))
    return total / max(len(reference), len(labels))
