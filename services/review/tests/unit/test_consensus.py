"""Consensus and pairwise agreement of shapes, keypoints, spans and transcripts."""

import itertools
import math

import numpy as np
import pytest

from labelmesh.review.consensus import (
    Box,
    PolygonShape,
    Span,
    box_consensus,
    box_from_label,
    box_iou,
    box_iou_matrix,
    character_error_rate,
    edit_distance,
    keypoints_oks,
    majority_vote,
    match_by_iou,
    multilabel_vote,
    normalize_transcript,
    object_keypoint_similarity,
    polygon_consensus,
    polygon_from_label,
    polygon_iou,
    polygon_iou_matrix,
    quality_weight,
    span_exact_f1,
    span_from_label,
    span_overlap_f1,
    transcript_of,
    weighted_vote,
    word_error_rate,
)
from labelmesh.v1.geometry_pb2 import (
    BoundingBox,
    Classification,
    Keypoint,
    Keypoints,
    Label,
    Point,
    Polygon,
    TextSpan,
    Transcription,
)

# --- votes -----------------------------------------------------------------------------------


def test_majority_vote_reports_the_winner_and_its_share() -> None:
    result = majority_vote(["cat", "dog", "cat"])
    assert (result.winner, result.tied) == ("cat", False)
    assert result.share == pytest.approx(2 / 3)


def test_majority_vote_breaks_ties_by_sort_order_whatever_the_vote_order() -> None:
    for votes in (["dog", "cat"], ["cat", "dog"], ["dog", "cat", "eel", "eel", "cat", "dog"]):
        result = majority_vote(votes)
        assert (result.winner, result.tied) == ("cat", True)
    assert majority_vote(["dog", "cat"]).share == 0.5


def test_weighted_vote_lets_a_reliable_annotator_outvote_two_others() -> None:
    result = weighted_vote(["cat", "dog", "dog"], [3.0, 1.0, 1.0])
    assert (result.winner, result.tied) == ("cat", False)
    assert result.share == pytest.approx(0.6)
    assert weighted_vote(["cat", "dog"], [0.1 + 0.2, 0.3]).tied


def test_weighted_vote_without_any_weight_is_unweighted() -> None:
    result = weighted_vote(["cat", "dog", "dog"], [0.0, 0.0, 0.0])
    assert result.winner == "dog"
    assert result.share == pytest.approx(2 / 3)


def test_votes_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one"):
        majority_vote([])
    with pytest.raises(ValueError, match="2 weights for 3"):
        weighted_vote(["a", "b", "c"], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"annotator 1 must be finite and >= 0: -0\.5"):
        weighted_vote(["a", "b"], [1.0, -0.5])


def test_quality_weight_is_the_log_odds_of_accuracy() -> None:
    assert quality_weight(0.9) == pytest.approx(math.log(9))
    assert quality_weight(0.9, n_classes=3) == pytest.approx(math.log(18))
    assert quality_weight(0.5) == 0.0
    assert quality_weight(0.2) == 0.0
    assert quality_weight(0.3, n_classes=4) == pytest.approx(math.log(3 * 0.3 / 0.7))
    assert quality_weight(1.0) == pytest.approx(math.log(99))
    with pytest.raises(ValueError, match="accuracy"):
        quality_weight(1.5)


def test_multilabel_vote_keeps_labels_chosen_by_a_majority() -> None:
    result = multilabel_vote([{"a", "b"}, {"a"}, ["a", "c", "c"]])
    assert result.labels == {"a"}
    assert result.shares == {"a": 1.0, "b": pytest.approx(1 / 3), "c": pytest.approx(1 / 3)}
    assert multilabel_vote([{"a"}, {"b"}]).labels == frozenset()
    weighted = multilabel_vote([{"a"}, {"b"}], [2.0, 1.0])
    assert weighted.labels == {"a"}
    assert multilabel_vote([set(), {"b"}, {"b"}], threshold=0.6).labels == {"b"}


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


# --- keypoints -------------------------------------------------------------------------------


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


# --- text spans ------------------------------------------------------------------------------


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


# --- transcriptions --------------------------------------------------------------------------


def test_word_error_rate_of_known_sentence_pairs() -> None:
    assert word_error_rate("the cat sat on the mat", "the cat sat on the hat") == pytest.approx(
        1 / 6
    )
    assert word_error_rate("one two three four five", "one two tree four five") == 0.2
    assert word_error_rate("a b c", "a c") == pytest.approx(1 / 3)
    assert word_error_rate("a b c", "a b c d e f") == 1.0
    assert word_error_rate("The cat, it SAT!", "the cat it sat") == 0.0


def test_character_error_rate() -> None:
    assert character_error_rate("kitten", "sitting") == pytest.approx(3 / 6)
    assert character_error_rate("ab cd", "abcd") == pytest.approx(1 / 5)


def test_error_rates_of_empty_texts() -> None:
    assert word_error_rate("", "") == 0.0
    assert word_error_rate("?!", "") == 0.0
    assert math.isnan(word_error_rate("", "words"))
    assert word_error_rate("some words", "") == 1.0


def test_normalize_transcript() -> None:
    assert (
        normalize_transcript("  Don't   STOP—now, \uff2d\uff29\uff33\uff33. Ärger ")
        == "dont stopnow miss ärger"
    )
    assert normalize_transcript("50% of $3 + 4") == "50 of $3 + 4"


def _reference_levenshtein(a: list[int], b: list[int]) -> int:
    table = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i][j] = min(
                table[i - 1][j] + 1,
                table[i][j - 1] + 1,
                table[i - 1][j - 1] + (a[i - 1] != b[j - 1]),
            )
    return table[-1][-1]


def test_edit_distance_matches_the_textbook_recurrence() -> None:
    rng = np.random.default_rng(2)
    for _ in range(300):
        alphabet = int(rng.integers(1, 6))
        a = rng.integers(0, alphabet, int(rng.integers(0, 15))).tolist()
        b = rng.integers(0, alphabet, int(rng.integers(0, 15))).tolist()
        assert edit_distance(a, b) == _reference_levenshtein(a, b)
    # Longer than a machine word, so that carries cross 64-bit boundaries.
    for _ in range(5):
        a = rng.integers(0, 3, int(rng.integers(60, 200))).tolist()
        b = rng.integers(0, 3, int(rng.integers(60, 200))).tolist()
        assert edit_distance(a, b) == _reference_levenshtein(a, b)
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance(["a", "b"], []) == 2


# --- adapters --------------------------------------------------------------------------------


def test_adapters_read_labels() -> None:
    box = Label(bounding_box=BoundingBox(label="car", x=1, y=2, width=3, height=4))
    assert box_from_label(box) == Box("car", 1, 2, 3, 4)
    polygon = Label(
        polygon=Polygon(label="lake", points=[Point(x=0, y=0), Point(x=1, y=0), Point(x=0, y=1)])
    )
    assert polygon_from_label(polygon) == PolygonShape("lake", ((0, 0), (1, 0), (0, 1)))
    span = Label(text_span=TextSpan(label="PER", start=3, end=8, text="Alice"))
    assert span_from_label(span) == Span("PER", 3, 8)
    assert transcript_of(Label(transcription=Transcription(text="hello"))) == "hello"
    with pytest.raises(ValueError, match="'classification' is not 'bounding_box'"):
        box_from_label(Label(classification=Classification(label="car")))
