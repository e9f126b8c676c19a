"""IoU of boxes, polygons and intervals, matching, and consensus of drawn shapes."""

import math

import numpy as np
import pytest

from labelmesh.review.consensus.geometry import (
    Box,
    PolygonShape,
    box_consensus,
    box_from_label,
    box_iou,
    box_iou_matrix,
    interval_iou,
    match_by_iou,
    match_by_score,
    polygon_consensus,
    polygon_from_label,
    polygon_iou,
    polygon_iou_matrix,
)
from labelmesh.v1.geometry_pb2 import BoundingBox, Classification, Label, Point, Polygon

# --- IoU and matching ------------------------------------------------------------------------


def test_box_iou_by_hand() -> None:
    square = Box("car", 0, 0, 2, 2)
    assert box_iou(square, square) == 1.0
    assert box_iou(square, Box("car", 1, 0, 2, 2)) == pytest.approx(2 / 6)
    assert box_iou(Box("car", 0, 0, 4, 4), Box("car", 1, 1, 2, 2)) == pytest.approx(4 / 16)
    assert box_iou(square, Box("car", 2, 0, 2, 2)) == 0.0
    assert box_iou(Box("car", 0, 0, 0, 0), Box("car", 0, 0, 0, 0)) == 0.0


def test_box_and_polygon_iou_matrices_agree_on_rectangles() -> None:
    rng = np.random.default_rng(3)
    boxes = np.column_stack([rng.uniform(0, 50, (30, 2)), rng.uniform(5, 40, (30, 2))])
    outlines = [[(x, y), (x + w, y), (x + w, y + h), (x, y + h)] for x, y, w, h in boxes.tolist()]
    by_box = box_iou_matrix(boxes[:12], boxes)
    assert by_box.shape == (12, 30)
    assert (by_box > 0).sum() > 12
    np.testing.assert_allclose(polygon_iou_matrix(outlines[:12], outlines), by_box, atol=1e-12)


def test_polygon_iou_by_hand() -> None:
    square = PolygonShape("lake", ((0, 0), (2, 0), (2, 2), (0, 2)))
    half = PolygonShape("lake", ((0, 0), (2, 0), (0, 2)))
    assert polygon_iou(square, half) == pytest.approx(0.5)
    # A bow tie crosses itself; repaired it is two triangles covering half the square.
    bow_tie = PolygonShape("lake", ((0, 0), (2, 2), (2, 0), (0, 2)))
    assert polygon_iou(square, bow_tie) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="three"):
        polygon_iou(square, PolygonShape("lake", ((0, 0), (1, 1))))


def test_hungarian_matching_beats_greedy() -> None:
    # Greedy takes the best pair (0, 0) and leaves row 1 with nothing above the threshold.
    iou = [[0.9, 0.6], [0.7, 0.0]]
    assert sorted(match_by_iou(iou, threshold=0.5)) == [(0, 1), (1, 0)]
    assert match_by_iou([[0.4, 0.2]], threshold=0.5) == []
    assert match_by_iou(np.zeros((0, 3))) == []
    with pytest.raises(ValueError, match="threshold"):
        match_by_iou(iou, threshold=0)


def test_box_iou_of_labelled_boxes() -> None:
    def iou(a: BoundingBox, b: BoundingBox) -> float:
        return box_iou(box_from_label(Label(bounding_box=a)), box_from_label(Label(bounding_box=b)))

    a = BoundingBox(x=0, y=0, width=2, height=2)
    assert iou(a, a) == pytest.approx(1.0)
    assert iou(a, BoundingBox(x=1, y=0, width=2, height=2)) == pytest.approx(2 / 6)
    assert iou(a, BoundingBox(x=5, y=5, width=1, height=1)) == 0.0


def test_interval_iou() -> None:
    assert interval_iou((0, 2), (1, 3)) == pytest.approx(1 / 3)
    assert interval_iou((0, 1), (2, 3)) == 0.0
    assert interval_iou((1, 1), (1, 1)) == 0.0
    with pytest.raises(ValueError, match="end before it starts"):
        interval_iou((2, 1), (0, 3))


def test_matching_by_score_takes_any_positive_score() -> None:
    assert sorted(match_by_score([[0.9, 0.6], [0.7, 0.0]])) == [(0, 1), (1, 0)]
    assert match_by_score([[0.1, 0.0], [0.0, 0.0]]) == [(0, 0)]
    assert match_by_score([[0.0, -1.0], [np.nan, 0.0]]) == []
    with pytest.raises(ValueError, match="matrix"):
        match_by_score([0.5])


# --- shape consensus -------------------------------------------------------------------------


def test_box_consensus_of_three_annotators_by_hand() -> None:
    first = [Box("car", 0, 0, 10, 10), Box("person", 20, 20, 10, 10)]
    second = [Box("car", 1, 0, 10, 10), Box("person", 20, 20, 10, 10)]
    third = [Box("car", 0, 1, 10, 10), Box("car", 50, 50, 5, 5)]
    result = box_consensus([first, second, third])

    car, person, stray = result.clusters
    assert car.members == ((0, 0), (1, 0), (2, 0))
    assert car.shape == Box("car", 0, 0, 10, 10)
    assert car.support == 1.0
    assert car.mean_iou == pytest.approx((9 / 11 + 9 / 11 + 81 / 119) / 3)
    assert person.members == ((0, 1), (1, 1))
    assert person.support == pytest.approx(2 / 3)
    assert stray.members == ((2, 1),)
    assert math.isnan(stray.mean_iou)
    assert result.unmatched == 1
    # Each pair: matched IoU over the mean number of boxes the two drew.
    pairs = [(9 / 11 + 1) / 2, (9 / 11) / 2, (81 / 119) / 2]
    assert result.agreement == pytest.approx(sum(pairs) / 3)


def test_box_consensus_takes_the_median_of_each_edge() -> None:
    drawn = [[Box("car", 0, 0, 10, 10)], [Box("car", 1, 2, 10, 10)], [Box("car", 1, 0, 11, 9)]]
    (car,) = box_consensus(drawn).clusters
    assert car.shape == Box("car", 1, 0, 10, 10)


def test_box_consensus_matches_optimally_where_greedy_would_not() -> None:
    # IoU of 10-wide boxes shifted by d is (10 - d) / (10 + d): 1 at 0, 7/13 at 3, 1/4 at 6.
    first = [Box("car", 0, 0, 10, 10), Box("car", -3, 0, 10, 10)]
    second = [Box("car", 0, 0, 10, 10), Box("car", 3, 0, 10, 10)]
    result = box_consensus([first, second])
    assert sorted(c.members for c in result.clusters) == [((0, 0), (1, 1)), ((0, 1), (1, 0))]
    assert result.unmatched == 0
    assert result.agreement == pytest.approx(7 / 13)


def test_box_consensus_never_matches_different_labels() -> None:
    result = box_consensus([[Box("car", 0, 0, 5, 5)], [Box("bus", 0, 0, 5, 5)]])
    assert len(result.clusters) == 2
    assert result.unmatched == 2
    assert result.agreement == 0.0


def test_box_consensus_below_the_threshold_counts_as_disagreement() -> None:
    drawn = [[Box("car", 0, 0, 10, 10)], [Box("car", 4, 0, 10, 10)]]
    assert box_consensus(drawn, iou_threshold=0.5).agreement == 0.0
    assert box_consensus(drawn, iou_threshold=0.4).agreement == pytest.approx(6 / 14)


def test_box_consensus_edges() -> None:
    assert box_consensus([[], []]).agreement == 1.0
    assert box_consensus([[], []]).clusters == ()
    assert box_consensus([[Box("car", 0, 0, 1, 1)], []]).agreement == 0.0
    alone = box_consensus([[Box("car", 0, 0, 1, 1)]])
    assert math.isnan(alone.agreement)
    assert alone.clusters[0].support == 1.0
    with pytest.raises(ValueError, match="at least one annotator"):
        box_consensus([])
    assert polygon_consensus([[], []]).agreement == 1.0


def test_polygon_consensus_picks_the_medoid() -> None:
    def square(left: float) -> PolygonShape:
        return PolygonShape("lake", ((left, 0), (left + 10, 0), (left + 10, 10), (left, 10)))

    result = polygon_consensus([[square(0)], [square(1)], [square(2)], []])
    (lake,) = result.clusters
    assert lake.shape == square(1)
    assert lake.support == 0.75
    shifted = {1: 9 / 11, 2: 8 / 12}
    assert lake.mean_iou == pytest.approx((2 * shifted[1] + shifted[2]) / 3)
    # The three pairs with the empty annotation score 0.
    assert result.agreement == pytest.approx((2 * shifted[1] + shifted[2]) / 6)


# --- adapters --------------------------------------------------------------------------------


def test_adapters_read_labels() -> None:
    box = Label(bounding_box=BoundingBox(label="car", x=1, y=2, width=3, height=4))
    assert box_from_label(box) == Box("car", 1, 2, 3, 4)
    polygon = Label(
        polygon=Polygon(label="lake", points=[Point(x=0, y=0), Point(x=1, y=0), Point(x=0, y=1)])
    )
    assert polygon_from_label(polygon) == PolygonShape("lake", ((0, 0), (1, 0), (0, 1)))
    with pytest.raises(ValueError, match="'classification' is not 'bounding_box'"):
        box_from_label(Label(classification=Classification(label="car")))
