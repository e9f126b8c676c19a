"""Judgements of suggestions and the precision they measure, on the twins."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelmesh.inference.feedback import judgement_of
from labelmesh.inference.records import Judgement
from labelmesh.v1.events_pb2 import SuggestionAccepted, SuggestionRejected
from labelmesh.v1.geometry_pb2 import BoundingBox, Label, LabelSource

from .fakes import BOXES, harness


def label(score: float, model_id: str = BOXES) -> Label:
    return Label(
        bounding_box=BoundingBox(label="face", width=1, height=1),
        confidence=score,
        source=LabelSource(model_id=model_id, score=score, suggestion_id="s"),
    )


def test_a_verdict_counts_toward_its_model_and_confidence_bucket() -> None:
    assert judgement_of(SuggestionAccepted(label=label(0.92))) == Judgement(BOXES, 9, True)
    assert judgement_of(SuggestionRejected(label=label(0.55))) == Judgement(BOXES, 5, False)
    assert judgement_of(SuggestionRejected(label=label(1.0))) == Judgement(BOXES, 9, False)
    # A label a person drew has no model to count toward.
    assert judgement_of(SuggestionAccepted(label=label(0.9, model_id=""))) is None


async def test_recorded_judgements_measure_precision_per_bucket_and_count_metrics(
    tmp_path: Path,
) -> None:
    h = harness(tmp_path)
    feedback = h.cases.feedback
    judged = [Judgement(BOXES, 9, True), Judgement(BOXES, 9, True), Judgement(BOXES, 5, False)]
    async with h.uow.begin() as tx:
        await feedback.record(tx, judged)
    feedback.counted(judged)
    quality = await feedback.quality(BOXES)
    assert (quality.accepted, quality.rejected) == (2, 1)
    assert quality.precision == pytest.approx(2 / 3)
    assert [
        (b.low, b.high, b.accepted, b.rejected) for b in quality.buckets if b.accepted or b.rejected
    ] == [
        (0.5, 0.6, 0, 1),
        (0.9, 1.0, 2, 0),
    ]
    assert len(quality.buckets) == 10
    assert (
        h.metric(
            "labelmesh_inference_suggestions_judged_total",
            model=BOXES,
            bucket="0.9",
            outcome="accepted",
        )
        == 2
    )
    untouched = await feedback.quality("never-judged")
    assert (untouched.accepted, untouched.rejected, untouched.precision) == (0, 0, 0.0)
