"""Votes over categories, and annotators' vote weights."""

import math

import pytest

from labelmesh.review.consensus.votes import (
    majority_vote,
    multilabel_vote,
    quality_weight,
    weighted_vote,
)


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
