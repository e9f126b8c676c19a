import pytest

from labelmesh.review.domain import agreement
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


def segment(start: float, end: float) -> Label:
    return Label(time_segment=TimeSegment(label="speech", start_seconds=start, end_seconds=end))


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


def test_agreement_matches_optimally_where_greedy_would_not() -> None:
    # The first reference segment's best partner is also the second's only one.
    reference = [segment(0, 10), segment(6, 9)]
    labels = [segment(0, 9), segment(0, 6)]
    assert agreement(labels, reference) == pytest.approx((0.6 + 1 / 3) / 2)


def test_degenerate_shapes_agree_with_nothing() -> None:
    def span(start: int, end: int) -> Label:
        return Label(text_span=TextSpan(label="PER", start=start, end=end))

    assert agreement([span(3, 3)], [span(3, 3)]) == 0.0
    assert agreement([span(5, 2)], [span(5, 2)]) == 0.0
    assert agreement([box(0, 0, -2, 2)], [box(0, 0, -2, 2)]) == 0.0
    assert agreement([segment(3, 1)], [segment(3, 1)]) == 0.0
