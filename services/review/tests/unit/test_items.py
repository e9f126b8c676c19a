"""One item's consensus across several annotators, per kind of label."""

import math

import pytest

from labelmesh.review.consensus.items import item_consensus
from labelmesh.v1.geometry_pb2 import (
    BoundingBox,
    Classification,
    Keypoint,
    Keypoints,
    Label,
    Mask,
    Point,
    Polygon,
    TextSpan,
    TimeSegment,
    Transcription,
)

EVEN = [1.0, 1.0, 1.0]


def without_confidence(labels: list[Label]) -> list[Label]:
    """The labels without their confidence, which is the consensus's support."""
    bare = []
    for label in labels:
        copy = Label()
        copy.CopyFrom(label)
        copy.ClearField("confidence")
        bare.append(copy)
    return bare


def cls(name: str) -> Label:
    return Label(classification=Classification(label=name), confidence=1.0)


def box(x: float, y: float, w: float, h: float, name: str = "car") -> Label:
    return Label(bounding_box=BoundingBox(label=name, x=x, y=y, width=w, height=h))


def square(x: float, y: float, side: float, name: str = "lake") -> Label:
    corners = [(x, y), (x + side, y), (x + side, y + side), (x, y + side)]
    return Label(polygon=Polygon(label=name, points=[Point(x=a, y=b) for a, b in corners]))


def span(start: int, end: int, name: str = "PERSON") -> Label:
    return Label(text_span=TextSpan(label=name, start=start, end=end))


def segment(start: float, end: float, name: str = "speech") -> Label:
    return Label(time_segment=TimeSegment(label=name, start_seconds=start, end_seconds=end))


def pose(dx: float = 0.0, dy: float = 0.0, name: str = "person") -> Label:
    points = {"nose": (50, 20), "left_hand": (10, 60), "right_hand": (90, 60), "foot": (50, 120)}
    return Label(
        keypoints=Keypoints(
            label=name,
            points=[
                Keypoint(name=k, position=Point(x=x + dx, y=y + dy), visibility=1.0)
                for k, (x, y) in points.items()
            ],
        )
    )


def said(text: str) -> Label:
    return Label(transcription=Transcription(text=text))


def classes(labels: list[Label]) -> list[str]:
    return [label.classification.label for label in labels]


def geometry(label: Label) -> tuple[float, ...]:
    b = label.bounding_box
    return (b.x, b.y, b.width, b.height)


# --- classification ----------------------------------------------------------------------------


def test_majority_class_wins_with_its_share_as_agreement() -> None:
    result = item_consensus([[cls("cat")], [cls("dog")], [cls("cat")]], EVEN)
    assert classes(result.labels) == ["cat"]
    assert result.agreement == pytest.approx(2 / 3)
    assert not result.tied


def test_unanimous_class_agrees_fully() -> None:
    result = item_consensus([[cls("cat")]] * 3, EVEN)
    assert (classes(result.labels), result.agreement, result.tied) == (["cat"], 1.0, False)


def test_a_heavy_annotator_outvotes_two_light_ones() -> None:
    annotations = [[cls("cat")], [cls("dog")], [cls("dog")]]
    assert classes(item_consensus(annotations, EVEN).labels) == ["dog"]
    weighted = item_consensus(annotations, [3.0, 1.0, 1.0])
    assert classes(weighted.labels) == ["cat"]
    assert weighted.agreement == pytest.approx(3 / 5)


def test_a_tie_is_flagged_and_broken_by_class_order() -> None:
    for annotations in ([[cls("dog")], [cls("cat")]], [[cls("cat")], [cls("dog")]]):
        result = item_consensus(annotations, [1.0, 1.0])
        assert result.tied
        assert classes(result.labels) == ["cat"]
        assert result.agreement == pytest.approx(0.5)
    three_way = item_consensus([[cls("ant")], [cls("bee")], [cls("cat")]], EVEN)
    assert three_way.tied and three_way.agreement == pytest.approx(1 / 3)


def test_weights_of_zero_or_less_vote_as_equals() -> None:
    annotations = [[cls("cat")], [cls("dog")], [cls("dog")]]
    assert classes(item_consensus(annotations, [0.0, 0.0, 0.0]).labels) == ["dog"]
    assert classes(item_consensus(annotations, [5.0, -1.0, -1.0]).labels) == ["cat"]


def test_an_annotator_without_a_class_votes_for_none() -> None:
    result = item_consensus([[cls("cat")], [], []], EVEN)
    assert result.labels == []
    assert result.agreement == pytest.approx(2 / 3)


# --- boxes -------------------------------------------------------------------------------------


def test_jittered_boxes_give_one_box_of_median_edges() -> None:
    result = item_consensus(
        [[box(10, 10, 100, 50)], [box(12, 9, 100, 52)], [box(9, 11, 98, 50)]], EVEN
    )
    assert len(result.labels) == 1
    consensus = result.labels[0].bounding_box
    # Median left 10, top 10, right 110 (of 110, 112, 107), bottom 61 (of 60, 61, 61).
    assert geometry(result.labels[0]) == pytest.approx((10, 10, 100, 51))
    assert consensus.label == "car"
    assert result.agreement > 0.9


def test_a_box_only_one_annotator_drew_is_dropped_and_lowers_agreement() -> None:
    jittered = [[box(10, 10, 100, 50)], [box(12, 9, 100, 52)], [box(9, 11, 98, 50)]]
    extra = [[*jittered[0], box(300, 300, 40, 40)], jittered[1], jittered[2]]
    clean, noisy = item_consensus(jittered, EVEN), item_consensus(extra, EVEN)
    assert [geometry(label) for label in noisy.labels] == [geometry(clean.labels[0])]
    assert noisy.agreement < clean.agreement - 0.2


def test_a_box_of_another_class_never_merges() -> None:
    result = item_consensus(
        [[box(0, 0, 10, 10, "car")], [box(0, 0, 10, 10, "bus")], [box(0, 0, 10, 10, "car")]],
        EVEN,
    )
    assert [label.bounding_box.label for label in result.labels] == ["car"]
    assert result.agreement == pytest.approx(1 / 3)


def test_a_box_drawn_by_a_heavy_annotator_alone_is_kept() -> None:
    result = item_consensus([[box(0, 0, 10, 10)], [], []], [5.0, 1.0, 1.0])
    assert [geometry(label) for label in result.labels] == [(0, 0, 10, 10)]


# --- polygons, spans, time segments ------------------------------------------------------------


def test_polygons_take_the_medoid() -> None:
    result = item_consensus([[square(0, 0, 10)], [square(1, 0, 10)], [square(2, 0, 10)]], EVEN)
    assert len(result.labels) == 1
    assert without_confidence(result.labels) == [square(1, 0, 10)]
    assert result.labels[0].confidence == pytest.approx(1.0)
    # Pairwise IoU: 90/110 for the neighbours, 80/120 for the outer two.
    assert result.agreement == pytest.approx((90 / 110 * 2 + 80 / 120) / 3)


def test_a_stray_polygon_is_dropped() -> None:
    result = item_consensus(
        [[square(0, 0, 10)], [square(0, 0, 10), square(50, 50, 5)], [square(0, 0, 10)]], EVEN
    )
    assert without_confidence(result.labels) == [square(0, 0, 10)]
    assert result.labels[0].confidence == pytest.approx(1.0)  # all three drew it
    assert result.agreement < 1.0


def test_text_spans_merge_by_interval_iou() -> None:
    result = item_consensus(
        [[span(0, 10)], [span(1, 10)], [span(0, 11)], [span(40, 45)]], [1.0] * 4
    )
    assert [(s.text_span.start, s.text_span.end) for s in result.labels] == [(0, 10)]
    # Spans [0, 10) and [1, 10) overlap 9 of 10 characters.
    alone = item_consensus([[span(0, 10)], [span(1, 10)]], [1.0, 1.0])
    assert alone.agreement == pytest.approx(0.9)


def test_text_spans_below_half_overlap_do_not_match() -> None:
    result = item_consensus([[span(0, 10)], [span(6, 16)]], [1.0, 1.0])
    # IoU 4/16: two clusters of one annotator each, neither with a majority.
    assert result.labels == []
    assert result.agreement == 0.0


def test_time_segments_merge_by_interval_iou() -> None:
    result = item_consensus(
        [[segment(1.0, 3.0)], [segment(1.2, 3.0)], [segment(0.8, 3.2), segment(9.0, 9.5)]], EVEN
    )
    assert len(result.labels) == 1
    merged = result.labels[0].time_segment
    assert (merged.label, merged.start_seconds, merged.end_seconds) == pytest.approx(
        ("speech", 1.0, 3.0)
    )
    pair = item_consensus([[segment(1.0, 3.0)], [segment(1.5, 3.0)]], [1.0, 1.0])
    assert pair.agreement == pytest.approx(0.75)


# --- keypoints ---------------------------------------------------------------------------------


def test_keypoints_match_by_oks_and_take_the_medoid() -> None:
    result = item_consensus([[pose()], [pose(dx=1)], [pose(dx=2)]], EVEN)
    assert without_confidence(result.labels) == [pose(dx=1)]
    assert 0.9 < result.agreement < 1.0


def test_a_skeleton_far_from_the_others_is_dropped() -> None:
    result = item_consensus([[pose()], [pose(dx=1)], [pose(dx=500)]], EVEN)
    assert without_confidence(result.labels) == [
        pose()
    ]  # the medoid of two: the earlier annotator's
    assert result.agreement < 0.5


# --- transcriptions ----------------------------------------------------------------------------


def test_transcription_is_the_medoid_by_wer_with_agreement_one_minus_mean_wer() -> None:
    texts = ["the cat sat on the mat", "the cat sat on a mat", "the cat sat on the mat"]
    result = item_consensus([[said(t)] for t in texts], EVEN)
    assert result.labels == [said("the cat sat on the mat")]
    # WERs of the pairs: 1/6, 0 and 1/6.
    assert result.agreement == pytest.approx(1 - (1 / 6 + 0 + 1 / 6) / 3)


def test_transcription_vote_follows_the_weights() -> None:
    texts = ["a b c d", "a b x d", "a b x d"]
    assert item_consensus([[said(t)] for t in texts], EVEN).labels == [said("a b x d")]
    heavy = item_consensus([[said(t)] for t in texts], [10.0, 1.0, 1.0])
    assert heavy.labels == [said("a b c d")]


def test_transcription_agreement_is_not_negative() -> None:
    result = item_consensus([[said("yes")], [said("no no no no")]], [1.0, 1.0])
    assert result.agreement == 0.0


# --- several kinds, other kinds, errors --------------------------------------------------------


def test_mixed_kinds_average_their_agreements() -> None:
    result = item_consensus(
        [
            [cls("cat"), box(0, 0, 10, 10)],
            [cls("cat"), box(0, 0, 10, 10)],
            [cls("dog"), box(0, 0, 10, 10)],
        ],
        EVEN,
    )
    assert sorted(label.WhichOneof("kind") for label in result.labels) == [
        "bounding_box",
        "classification",
    ]
    assert result.agreement == pytest.approx((2 / 3 + 1.0) / 2)


def test_masks_are_kept_when_a_majority_drew_exactly_them() -> None:
    mask = Label(mask=Mask(label="road", width=2, height=1, counts=[1, 1]))
    other = Label(mask=Mask(label="road", width=2, height=1, counts=[0, 2]))
    result = item_consensus([[mask], [mask], [other]], EVEN)
    assert without_confidence(result.labels) == [mask]
    assert result.labels[0].confidence == pytest.approx(2 / 3)
    assert result.agreement == pytest.approx(1 / 3)


def test_one_annotator_is_its_own_consensus() -> None:
    result = item_consensus([[cls("cat"), box(0, 0, 5, 5)]], [1.0])
    assert sorted(label.WhichOneof("kind") for label in result.labels) == [
        "bounding_box",
        "classification",
    ]
    assert result.agreement == 1.0


def test_annotators_who_all_labelled_nothing_agree() -> None:
    result = item_consensus([[], []], [1.0, 1.0])
    assert (result.labels, result.agreement, result.tied) == ([], 1.0, False)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="2 weights for 3 annotations"):
        item_consensus([[cls("a")], [cls("a")], [cls("a")]], [1.0, 1.0])
    with pytest.raises(ValueError, match="at least one annotation"):
        item_consensus([], [])


def test_agreement_is_always_a_number_in_the_unit_interval() -> None:
    cases = [
        [[box(0, 0, 1, 1)], [box(5, 5, 1, 1)]],
        [[span(0, 1)], []],
        [[said("")], [said("")]],
        [[said("")], [said("words")]],
        [[pose()], [pose(dx=1000)]],
    ]
    for annotations in cases:
        agreement = item_consensus(annotations, [1.0, 1.0]).agreement
        assert not math.isnan(agreement) and 0.0 <= agreement <= 1.0, annotations
