"""Object keypoint similarity of skeletons."""

import itertools
import math

import numpy as np
import pytest

from labelmesh.review.consensus.keypoints import keypoints_oks, object_keypoint_similarity
from labelmesh.v1.geometry_pb2 import Keypoint, Keypoints, Point


def test_oks_is_one_for_identical_keypoints_and_falls_with_distance() -> None:
    points = np.array([[10.0, 10.0], [20.0, 15.0], [30.0, 40.0]])
    assert object_keypoint_similarity(points, points, area=400) == 1.0
    scores = [
        object_keypoint_similarity(points, points + np.array([shift, 0.0]), area=400)
        for shift in (0.5, 1, 2, 4, 8, 16)
    ]
    assert all(a > b for a, b in itertools.pairwise(scores))
    assert scores[-1] < 0.01


def test_oks_by_hand() -> None:
    # s² = 100 and sigma 0.1, so k = 0.2 and a shift d scores exp(-d² / 8).
    reference = [[0.0, 0.0], [5.0, 5.0]]
    candidate = [[0.0, 2.0], [5.0, 5.0]]
    expected = (math.exp(-4 / 8) + 1) / 2
    oks = object_keypoint_similarity(reference, candidate, area=100, sigmas=0.1)
    assert oks == pytest.approx(expected)
    per_point = object_keypoint_similarity(reference, candidate, area=100, sigmas=[0.1, 0.5])
    assert per_point == pytest.approx(expected)


def test_oks_does_not_depend_on_the_image_scale() -> None:
    rng = np.random.default_rng(5)
    reference = rng.uniform(0, 50, (12, 2))
    candidate = reference + rng.normal(0, 2, (12, 2))
    small = object_keypoint_similarity(reference, candidate, area=900)
    large = object_keypoint_similarity(reference * 4, candidate * 4, area=900 * 16)
    assert small == pytest.approx(large)
    assert 0.2 < small < 0.95


def test_oks_counts_only_the_reference_keypoints_and_scores_missing_ones_zero() -> None:
    reference = [[0.0, 0.0], [5.0, 5.0], [9.0, 9.0]]
    candidate = [[0.0, 0.0], [np.nan, np.nan], [100.0, 100.0]]
    assert object_keypoint_similarity(reference, candidate, area=100, labelled=[1, 1, 0]) == 0.5
    assert math.isnan(
        object_keypoint_similarity(reference, candidate, area=100, labelled=[0, 0, 0])
    )
    with pytest.raises(ValueError, match="area"):
        object_keypoint_similarity(reference, candidate, area=0)


def _skeleton(*points: tuple[str, float, float, float]) -> Keypoints:
    return Keypoints(
        label="person",
        points=[
            Keypoint(name=name, position=Point(x=x, y=y), visibility=visibility)
            for name, x, y, visibility in points
        ],
    )


def test_keypoints_oks_pairs_keypoints_by_name() -> None:
    reference = _skeleton(("nose", 0, 0, 1), ("hip", 10, 10, 1), ("knee", 5, 20, 0))
    candidate = _skeleton(("hip", 10, 12, 1), ("nose", 0, 0, 0.5))
    # The hidden knee is not counted; the area defaults to the 10 x 10 box around the others.
    expected = (1 + math.exp(-4 / (2 * 100 * 0.2**2))) / 2
    assert keypoints_oks(reference, candidate, sigmas={"nose": 0.1, "hip": 0.1}) == pytest.approx(
        expected
    )
    assert keypoints_oks(reference, candidate, area=100, sigmas=0.1) == pytest.approx(expected)
    missing_hip = _skeleton(("nose", 0, 0, 1), ("hip", 10, 12, 0))
    assert keypoints_oks(reference, missing_hip, area=100) == 0.5
    with pytest.raises(ValueError, match="no sigma for keypoints \\['hip'\\]"):
        keypoints_oks(reference, candidate, sigmas={"nose": 0.1})
    with pytest.raises(ValueError, match="pass area"):
        keypoints_oks(_skeleton(("nose", 3, 3, 1)), candidate)
