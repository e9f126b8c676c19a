import pytest

from labelmesh.review.domain import (
    agreement,
    box_iou,
    interval_iou,
    review_auto_accepted,
    review_human,
    span_overlap,
)
from labelmesh.v1.events_pb2 import ReviewDecision
from labelmesh.v1.geometry_pb2 import (
    BoundingBox,
    Classification,
    Keypoint,
    Keypoints,
    Label,
    Point,
    Polygon,
    TextSpan,
    TimeSegment,
    Transcription,
)


def cls(name: str, confidence: float = 1.0) -> Label:
    return Label(classification=Classification(label=name), confidence=confidence)


def box(x: float, y: float, w: float, h: float, name: str = "car") -> Label:
    return Label(bounding_box=BoundingBox(label=name, x=x, y=y, width=w, height=h))


def test_box_iou() -> None:
    a = BoundingBox(x=0, y=0, width=2, height=2)
    assert box_iou(a, a) == pytest.approx(1.0)
    assert box_iou(a, BoundingBox(x=1, y=0, width=2, height=2)) == pytest.approx(2 / 6)
    assert box_iou(a, BoundingBox(x=5, y=5, width=1, height=1)) == 0.0


def test_span_overlap_is_f1() -> None:
    assert span_overlap(TextSpan(start=0, end=4), TextSpan(start=0, end=4)) == 1.0
    assert span_overlap(TextSpan(start=0, end=4), TextSpan(start=2, end=6)) == pytest.approx(0.5)


def test_agreement_of_classifications() -> None:
    assert agreement([cls("a")], [cls("a", 0.6)]) == 1.0
    assert agreement([cls("b")], [cls("a", 0.6)]) == 0.0
    assert agreement([cls("a")], []) is None


def test_agreement_counts_unmatched_shapes_as_disagreement() -> None:
    assert agreement([box(0, 0, 2, 2), box(10, 10, 2, 2)], [box(0, 0, 2, 2)]) == pytest.approx(0.5)
    assert agreement([box(0, 0, 2, 2)], [box(0, 0, 2, 2, name="bus")]) == 0.0


def test_agreement_measures_every_kind_of_geometry() -> None:
    def square(x: float, name: str = "lake") -> Label:
        corners = [Point(x=x, y=0), Point(x=x + 2, y=0), Point(x=x + 2, y=2), Point(x=x, y=2)]
        return Label(polygon=Polygon(label=name, points=corners))

    def segment(start: float, end: float) -> Label:
        return Label(time_segment=TimeSegment(label="speech", start_seconds=start, end_seconds=end))

    def pose(dx: float) -> Label:
        points = [("head", 0, 0), ("foot", 10, 40)]
        return Label(
            keypoints=Keypoints(
                label="person",
                points=[
                    Keypoint(name=n, position=Point(x=x + dx, y=y), visibility=1)
                    for n, x, y in points
                ],
            )
        )

    def said(text: str) -> Label:
        return Label(transcription=Transcription(text=text))

    assert agreement([square(1)], [square(0)]) == pytest.approx(2 / 6)
    assert agreement([square(0, "pond")], [square(0)]) == 0.0
    assert agreement([segment(1, 3)], [segment(2, 4)]) == pytest.approx(1 / 3)
    assert agreement([pose(0)], [pose(0)]) == pytest.approx(1.0)
    assert agreement([pose(100)], [pose(0)]) == pytest.approx(0.0, abs=1e-6)
    assert agreement([said("the cat sat")], [said("the cat sat")]) == 1.0
    assert agreement([said("the dog sat")], [said("The cat sat!")]) == pytest.approx(2 / 3)
    assert agreement([said("a b c d e")], [said("x")]) == 0.0


def test_interval_iou() -> None:
    assert interval_iou(0, 2, 1, 3) == pytest.approx(1 / 3)
    assert interval_iou(0, 1, 2, 3) == 0.0
    assert interval_iou(1, 1, 1, 1) == 0.0


def test_human_review_rejects_below_the_minimum_agreement() -> None:
    approved = review_human([cls("a")], [cls("a", 0.6)], min_agreement=0.5)
    assert approved.decision == ReviewDecision.REVIEW_DECISION_APPROVED
    assert approved.quality_score == 1.0
    rejected = review_human([cls("b")], [cls("a", 0.6)], min_agreement=0.5)
    assert rejected.decision == ReviewDecision.REVIEW_DECISION_REJECTED
    assert "below 0.50" in rejected.reason
    unsuggested = review_human([cls("b")], [], min_agreement=0.9)
    assert unsuggested.decision == ReviewDecision.REVIEW_DECISION_APPROVED
    assert unsuggested.agreement is None


def test_auto_accepted_labels_score_their_confidence() -> None:
    verdict = review_auto_accepted([cls("a", 0.97)], threshold=0.9)
    assert verdict.decision == ReviewDecision.REVIEW_DECISION_APPROVED
    assert verdict.quality_score == pytest.approx(0.97)
