"""Reports from stored records: exact figures by hand, agreement against reference packages."""

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import permutations
from typing import Any

import krippendorff
import numpy as np
import numpy.typing as npt
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as reference_fleiss_kappa
from statsmodels.stats.proportion import proportion_confint

from labelmesh.core.labels import labels_from_json
from labelmesh.review.records import AnnotationCopy, ReviewerDecision, ScoreReference, StoredScore
from labelmesh.review.reports import (
    Z_95,
    agreement_report,
    annotation_scores,
    annotations_per_hour,
    annotator_report,
    reviewer_report,
    wilson_interval,
)
from labelmesh.v1.events_pb2 import SCORE_REFERENCE_GOLD, SCORE_REFERENCE_SUGGESTION

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
CLASSES = ["ant", "bee", "cat", "dog"]
SEEDS = range(6)


def score(annotator: str, minutes: float = 0, **fields: Any) -> StoredScore:
    document = {
        "annotation_id": f"ann-{annotator}-{minutes}",
        "project_id": "p1",
        "item_id": "item-1",
        "annotator": annotator,
        "round": 1,
        "agreement": 1.0,
        "reference": ScoreReference.FINAL,
        "gold": False,
        "gold_correct": False,
        "correct": None,
        "score": 1.0,
        "seconds_spent": 0.0,
        "scored_at": T0 + timedelta(minutes=minutes),
    }
    return StoredScore(**(document | fields))


def decision(reviewer: str, **fields: Any) -> ReviewerDecision:
    document = {
        "review_task_id": "task-1",
        "project_id": "p1",
        "item_id": "item-1",
        "reviewer": reviewer,
        "stage": "review",
        "approved": True,
        "decided_at": T0,
        "settled": False,
        "matches_final": None,
        "overturned": None,
        "labels": [],
    }
    return ReviewerDecision(**(document | fields))


def classification(name: str) -> dict[str, Any]:
    return {"classification": {"label": name}}


BOX = {"boundingBox": {"label": "car", "x": 1, "y": 2, "width": 3, "height": 4}}


def annotation(
    item: str,
    annotator: str,
    labels: list[dict[str, Any]],
    *,
    round: int = 1,
    gold: bool = False,
    minutes: float = 0,
) -> AnnotationCopy:
    return AnnotationCopy(
        annotation_id=f"{item}-{annotator}-{round}-{minutes}",
        project_id="p1",
        item_id=item,
        annotator=annotator,
        round=round,
        labels=labels_from_json(labels),
        gold=gold,
        submitted_at=T0 + timedelta(minutes=minutes),
    )


def assert_all_nan(*values: float) -> None:
    assert all(math.isnan(v) for v in values), values


# --- annotation scores -----------------------------------------------------------------------


def test_annotation_scores_carry_every_field_oldest_first() -> None:
    later = score(
        "ann",
        90,
        annotation_id="a2",
        item_id="i2",
        agreement=0.25,
        reference=ScoreReference.GOLD,
        gold=True,
    )
    earlier = score(
        "bob",
        30,
        annotation_id="a1",
        gold_correct=True,
        score=0.5,
        reference=ScoreReference.SUGGESTION,
    )
    scores = annotation_scores([later, earlier])

    assert [s.annotation_id for s in scores] == ["a1", "a2"]
    first, second = scores
    assert (first.annotator, first.reference, first.gold_correct, first.score) == (
        "bob",
        "suggestion",
        True,
        0.5,
    )
    assert (second.item_id, second.agreement, second.gold) == ("i2", 0.25, True)
    assert [s.score_reference for s in scores] == [
        SCORE_REFERENCE_SUGGESTION,
        SCORE_REFERENCE_GOLD,
    ]
    assert second.scored_at.ToDatetime(tzinfo=UTC) == T0 + timedelta(minutes=90)
    assert second.scored_at.seconds == int((T0 + timedelta(minutes=90)).timestamp())


def test_annotation_scores_of_nothing_is_empty() -> None:
    assert annotation_scores([]) == []


# --- Wilson interval and throughput ----------------------------------------------------------


@pytest.mark.parametrize(("successes", "trials"), [(0, 1), (0, 7), (3, 4), (8, 10), (7, 7)])
def test_wilson_interval_matches_statsmodels(successes: int, trials: int) -> None:
    expected = proportion_confint(successes, trials, alpha=0.05, method="wilson")
    assert wilson_interval(successes, trials) == pytest.approx(expected, abs=1e-12)


def test_wilson_interval_by_hand_as_roots_of_its_quadratic() -> None:
    # The bounds solve (8/10 - p)² = z² p (1 - p) / 10 for p.
    z2, n, observed = Z_95**2, 10, 0.8
    a, b, c = 1 + z2 / n, -(2 * observed + z2 / n), observed**2
    root = math.sqrt(b * b - 4 * a * c)
    assert Z_95 == pytest.approx(1.959964, abs=1e-6)
    assert wilson_interval(8, n) == pytest.approx(((-b - root) / (2 * a), (-b + root) / (2 * a)))


def test_wilson_interval_without_trials_is_nan() -> None:
    assert_all_nan(*wilson_interval(0, 0))


def test_annotations_per_hour_over_the_active_span() -> None:
    times = [T0 + timedelta(minutes=m) for m in (30, 0, 120, 45)]
    assert annotations_per_hour(times) == 2.0  # four annotations over two hours
    assert annotations_per_hour([T0, T0 + timedelta(seconds=90)]) == 80.0


def test_annotations_per_hour_without_a_span_is_zero() -> None:
    assert annotations_per_hour([]) == 0.0
    assert annotations_per_hour([T0]) == 0.0
    assert annotations_per_hour([T0, T0, T0]) == 0.0


# --- annotator report ------------------------------------------------------------------------


def test_annotator_report_figures_by_hand() -> None:
    scores = [
        # Gold answers: 2 of 3 correct; their agreement is not in the mean.
        score(
            "ann",
            0,
            gold=True,
            gold_correct=True,
            correct=True,
            agreement=0.0,
            reference=ScoreReference.GOLD,
        ),
        score("ann", 10, gold=True, gold_correct=True, correct=True, agreement=0.0),
        score(
            "ann", 20, gold=True, gold_correct=False, correct=False, reference=ScoreReference.GOLD
        ),
        # Non-gold: mean agreement of 0.5, 0.75 and 1.0 is 0.75.
        score("ann", 40, agreement=0.5, correct=True, seconds_spent=30.0),
        score(
            "ann",
            60,
            agreement=0.75,
            correct=None,
            reference=ScoreReference.SUGGESTION,
            seconds_spent=10.0,
        ),
        score("ann", 120, agreement=1.0, correct=False, seconds_spent=20.0),
    ]
    [stats] = annotator_report(scores, flagged=set())

    assert stats.annotator == "ann"
    assert stats.annotations == 6
    assert stats.accuracy == 3 / 5
    assert (stats.gold_answers, stats.gold_accuracy) == (3, 2 / 3)
    low, high = proportion_confint(2, 3, alpha=0.05, method="wilson")
    assert stats.gold_accuracy_low == pytest.approx(low, abs=1e-12)
    assert stats.gold_accuracy_high == pytest.approx(high, abs=1e-12)
    assert stats.agreement == 0.75
    assert stats.per_hour == 3.0  # six annotations over two hours
    assert stats.median_seconds_per_item == 20.0  # 10, 20, 30; the gold ones are unknown (0)
    assert not stats.flagged


def test_annotator_report_sorts_annotators_and_marks_the_flagged() -> None:
    scores = [
        score("cyd", 0, seconds_spent=40.0),
        score("ann", 0, seconds_spent=10.0),
        score("cyd", 30, seconds_spent=10.0),
        score("bob", 0),
    ]
    report = annotator_report(scores, flagged={"cyd", "nobody"})
    assert [(s.annotator, s.annotations, s.flagged) for s in report] == [
        ("ann", 1, False),
        ("bob", 1, False),
        ("cyd", 2, True),
    ]
    assert report[2].median_seconds_per_item == 25.0  # an even count: the mean of the middle two
    assert report[2].per_hour == 4.0


def test_annotator_report_without_anything_to_measure_is_nan() -> None:
    [stats] = annotator_report(
        [score("ann", reference=ScoreReference.GOLD, correct=None)], flagged=set()
    )
    assert (stats.annotations, stats.gold_answers, stats.per_hour) == (1, 0, 0.0)
    assert_all_nan(
        stats.accuracy,
        stats.gold_accuracy,
        stats.gold_accuracy_low,
        stats.gold_accuracy_high,
        stats.agreement,
        stats.median_seconds_per_item,
    )
    assert annotator_report([], flagged={"ann"}) == []


# --- reviewer report -------------------------------------------------------------------------


def test_reviewer_report_rates_are_over_settled_decisions() -> None:
    decisions = [
        decision("rev", settled=True, matches_final=True, overturned=False),
        decision("rev", settled=True, matches_final=True, overturned=False, approved=False),
        decision("rev", settled=True, matches_final=False, overturned=True),
        decision("rev", settled=True, matches_final=None, overturned=None),
        decision("rev", settled=False, matches_final=None, overturned=None, approved=False),
        # Not settled: left out of the rates whatever its flags say.
        decision("rev", settled=False, matches_final=True, overturned=True),
        decision("ada", approved=False),
    ]
    ada, rev = reviewer_report(decisions)

    assert (rev.reviewer, rev.decisions, rev.settled, rev.approved) == ("rev", 6, 4, 4)
    assert rev.match_rate == 2 / 4
    assert rev.overturn_rate == 1 / 4
    assert (ada.reviewer, ada.decisions, ada.settled, ada.approved) == ("ada", 1, 0, 0)
    assert_all_nan(ada.match_rate, ada.overturn_rate)
    assert reviewer_report([]) == []


# --- agreement report: against reference implementations ------------------------------------


def random_annotations(
    seed: int,
) -> tuple[list[dict[str, Any]], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Documents, and what the report must see: annotators x items class codes and label counts.

    Class codes are NaN where an annotator gave no classification, counts NaN where no
    annotation. The documents also hold superseded rounds and gold answers, which the report
    must leave out.
    """
    rng = np.random.default_rng(seed)
    n_annotators, n_items = int(rng.integers(3, 6)), 80
    truth = rng.integers(0, len(CLASSES), n_items)
    noise = rng.integers(0, len(CLASSES), (n_annotators, n_items))
    codes = np.where(rng.random((n_annotators, n_items)) < 0.7, truth, noise).astype(float)
    annotated = rng.random((n_annotators, n_items)) < 0.6
    classified = annotated & (rng.random((n_annotators, n_items)) < 0.9)
    codes[~classified] = np.nan
    counts = np.where(annotated, 0.0, np.nan)

    documents = []
    for a in range(n_annotators):
        for i in range(n_items):
            if not annotated[a, i]:
                continue
            labels = [BOX] * int(rng.integers(0, 3))
            if classified[a, i]:
                where = int(rng.integers(0, len(labels) + 1))
                labels.insert(where, classification(CLASSES[int(codes[a, i])]))
            counts[a, i] = len(labels)
            final_round = int(rng.integers(1, 3))
            documents.append(
                annotation(f"item-{i}", f"annotator-{a}", labels, round=final_round, minutes=5)
            )
            if final_round == 2:
                stale = [classification(CLASSES[int(rng.integers(0, len(CLASSES)))])] * 3
                documents.append(annotation(f"item-{i}", f"annotator-{a}", stale, round=1))
            if rng.random() < 0.1:
                documents.append(
                    annotation(f"gold-{i}", f"annotator-{a}", [classification("eel")], gold=True)
                )
    documents = [documents[k] for k in rng.permutation(len(documents))]
    return documents, codes, counts


def modal_raters(per_item: npt.NDArray[np.int64]) -> int:
    frequency = Counter(int(n) for n in per_item if n >= 2)
    return max(frequency, key=lambda n: (frequency[n], n))


def specific_agreement_by_pairs(codes: npt.NDArray[np.float64], category: int) -> float:
    """Of the ordered pairs of two ratings of one item with the first in `category`, the share
    with both in it."""
    first, both = 0, 0
    for column in codes.T:
        for x, y in permutations(column[~np.isnan(column)].tolist(), 2):
            first += x == category
            both += x == category and y == category
    return both / first if first else math.nan


@pytest.mark.parametrize("seed", SEEDS)
def test_agreement_report_matches_reference_implementations(seed: int) -> None:
    documents, codes, counts = random_annotations(seed)
    report = agreement_report(documents)
    per_item = (~np.isnan(codes)).sum(axis=0)
    assert report.items == int((per_item >= 2).sum())

    # Fleiss' kappa over the items with the most common number of classifications.
    same_raters = codes[:, per_item == modal_raters(per_item)]
    items_by_raters = [column[~np.isnan(column)].astype(int) for column in same_raters.T]
    table, _ = aggregate_raters(np.array(items_by_raters), n_cat=len(CLASSES))
    assert report.fleiss_kappa == pytest.approx(reference_fleiss_kappa(table), abs=1e-12)

    nominal = krippendorff.alpha(reliability_data=codes, level_of_measurement="nominal")
    interval = krippendorff.alpha(reliability_data=counts, level_of_measurement="interval")
    assert report.krippendorff_alpha_nominal == pytest.approx(nominal, abs=1e-12)
    assert report.krippendorff_alpha_interval == pytest.approx(interval, abs=1e-12)

    used = sorted(CLASSES[int(c)] for c in np.unique(codes[~np.isnan(codes)]))
    assert [c.label for c in report.classes] == used
    for entry in report.classes:
        code = CLASSES.index(entry.label)
        assert entry.specific_agreement == pytest.approx(
            specific_agreement_by_pairs(codes, code), abs=1e-12
        )
        one_vs_rest = np.column_stack([table[:, code], table.sum(axis=1) - table[:, code]])
        if 0 < table[:, code].sum() < table.sum():
            expected = reference_fleiss_kappa(one_vs_rest)
            assert entry.fleiss_kappa == pytest.approx(expected, abs=1e-12)
        else:
            assert math.isnan(entry.fleiss_kappa)

    expected_pairs = []
    for a, b in zip(*np.triu_indices(len(codes), k=1), strict=True):
        shared = ~np.isnan(codes[a]) & ~np.isnan(codes[b])
        if shared.any():
            kappa = cohen_kappa_score(codes[a, shared], codes[b, shared])
            expected_pairs.append((f"annotator-{a}", f"annotator-{b}", int(shared.sum()), kappa))
    assert [(p.annotator_a, p.annotator_b, p.shared_items) for p in report.pairs] == [
        pair[:3] for pair in expected_pairs
    ]
    assert [p.cohen_kappa for p in report.pairs] == pytest.approx(
        [pair[3] for pair in expected_pairs], abs=1e-12
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_specific_agreement_of_two_annotators_is_their_f1(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ann, bob = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
    documents = [
        annotation(f"item-{i}", who, [classification(CLASSES[code])])
        for who, codes in (("ann", ann), ("bob", bob))
        for i, code in enumerate(codes)
    ]
    report = agreement_report(documents)
    for entry in report.classes:
        code = CLASSES.index(entry.label)
        assert entry.specific_agreement == pytest.approx(f1_score(ann == code, bob == code))
    [pair] = report.pairs
    assert pair.cohen_kappa == pytest.approx(cohen_kappa_score(ann, bob), abs=1e-12)


# --- agreement report: by hand and at the edges ---------------------------------------------


def test_agreement_report_uses_each_annotators_latest_round_and_leaves_gold_out() -> None:
    documents = [
        annotation("i1", "ann", [classification("cat")], round=1),
        annotation("i1", "ann", [classification("dog")], round=2),
        annotation("i1", "bob", [classification("dog")], round=1),
        annotation("i2", "ann", [classification("dog")], round=1, minutes=1),
        # The same round twice: the later submission counts.
        annotation("i2", "ann", [classification("cat")], round=1, minutes=2),
        annotation("i2", "bob", [classification("cat")], round=1),
        annotation("i3", "ann", [classification("cat")], gold=True),
        annotation("i3", "bob", [classification("dog")], gold=True),
    ]
    report = agreement_report(documents)
    assert report.items == 2
    assert report.krippendorff_alpha_nominal == 1.0
    assert report.fleiss_kappa == 1.0
    [pair] = report.pairs
    assert (pair.annotator_a, pair.annotator_b, pair.shared_items, pair.cohen_kappa) == (
        "ann",
        "bob",
        2,
        1.0,
    )
    assert [(c.label, c.specific_agreement, c.fleiss_kappa) for c in report.classes] == [
        ("cat", 1.0, 1.0),
        ("dog", 1.0, 1.0),
    ]


def test_agreement_report_fleiss_takes_the_most_common_number_of_raters() -> None:
    documents = [
        # Two items with three raters, agreeing; one with two raters, disagreeing.
        *(annotation("i1", who, [classification("cat")]) for who in ("ann", "bob", "cyd")),
        *(annotation("i2", who, [classification("dog")]) for who in ("ann", "bob", "cyd")),
        annotation("i3", "ann", [classification("cat")]),
        annotation("i3", "bob", [classification("dog")]),
    ]
    report = agreement_report(documents)
    assert report.items == 3
    assert report.fleiss_kappa == 1.0
    assert report.krippendorff_alpha_nominal < 1.0


def test_agreement_report_counts_labels_of_any_kind_for_the_interval_alpha() -> None:
    # No classification at all: only the interval alpha is defined.
    documents = [
        annotation("i1", "ann", [BOX]),
        annotation("i1", "bob", [BOX]),
        annotation("i2", "ann", [BOX, BOX, BOX]),
        annotation("i2", "bob", [BOX, BOX, BOX]),
    ]
    report = agreement_report(documents)
    assert report.krippendorff_alpha_interval == 1.0
    assert report.items == 0
    assert_all_nan(report.fleiss_kappa, report.krippendorff_alpha_nominal)
    assert (list(report.classes), list(report.pairs)) == ([], [])


def test_agreement_report_of_nothing_is_nan() -> None:
    report = agreement_report([])
    assert (report.items, list(report.classes), list(report.pairs)) == (0, [], [])
    assert_all_nan(
        report.fleiss_kappa, report.krippendorff_alpha_nominal, report.krippendorff_alpha_interval
    )


def test_agreement_report_of_a_single_annotator_is_nan() -> None:
    documents = [
        annotation("i1", "ann", [classification("cat")]),
        annotation("i2", "ann", [classification("dog"), BOX]),
    ]
    report = agreement_report(documents)
    assert report.items == 0
    assert_all_nan(
        report.fleiss_kappa, report.krippendorff_alpha_nominal, report.krippendorff_alpha_interval
    )
    assert [c.label for c in report.classes] == ["cat", "dog"]
    assert_all_nan(*(v for c in report.classes for v in (c.specific_agreement, c.fleiss_kappa)))
    assert list(report.pairs) == []


def test_agreement_report_of_one_class_only() -> None:
    documents = [
        annotation(item, who, [classification("cat")])
        for item in ("i1", "i2", "i3")
        for who in ("ann", "bob")
    ]
    report = agreement_report(documents)
    assert report.items == 3
    assert_all_nan(
        report.fleiss_kappa, report.krippendorff_alpha_nominal, report.krippendorff_alpha_interval
    )
    [entry] = report.classes
    assert (entry.label, entry.specific_agreement) == ("cat", 1.0)
    assert math.isnan(entry.fleiss_kappa)
    [pair] = report.pairs
    assert (pair.annotator_a, pair.annotator_b, pair.shared_items) == ("ann", "bob", 3)
    assert math.isnan(pair.cohen_kappa)


def test_a_perfect_or_null_record_keeps_its_bound_exactly_at_one_or_zero() -> None:
    assert wilson_interval(222, 222)[1] == 1.0
    assert wilson_interval(0, 222)[0] == 0.0
