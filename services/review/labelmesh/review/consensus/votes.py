"""Votes over categories, and annotators' vote weights from their accuracy."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast


@dataclass(frozen=True)
class VoteResult:
    """The winning category, its share of the (weighted) vote, and whether another tied it."""

    winner: Hashable
    share: float
    tied: bool


def _first_in_order(candidates: Collection[Hashable]) -> Hashable:
    try:
        first: Hashable = min(cast(Collection[Any], candidates))
    except TypeError:
        first = min(candidates, key=repr)
    return first


def _check_weights(weights: Sequence[float], expected: int) -> None:
    if len(weights) != expected:
        raise ValueError(f"got {len(weights)} weights for {expected} annotators")
    for annotator, weight in enumerate(weights):
        if not (math.isfinite(weight) and weight >= 0):
            raise ValueError(f"weight of annotator {annotator} must be finite and >= 0: {weight}")


def weighted_vote(votes: Sequence[Hashable], weights: Sequence[float]) -> VoteResult:
    """The category with the most vote weight; annotator i's vote weighs weights[i].

    A tie goes to the category that sorts first, so the result does not depend on the order
    of the votes; `tied` reports it. If every weight is 0 the vote is unweighted, since then no
    annotator is known to be better than another.
    """
    if not votes:
        raise ValueError("a vote needs at least one vote")
    _check_weights(weights, len(votes))
    if sum(weights) == 0:
        weights = [1.0] * len(votes)
    totals: dict[Hashable, float] = defaultdict(float)
    for vote, weight in zip(votes, weights, strict=True):
        totals[vote] += weight
    best = max(totals.values())
    leaders = [vote for vote, total in totals.items() if math.isclose(total, best, rel_tol=1e-9)]
    return VoteResult(_first_in_order(leaders), best / sum(weights), len(leaders) > 1)


def majority_vote(votes: Sequence[Hashable]) -> VoteResult:
    """The most frequent category; ties go to the category that sorts first."""
    return weighted_vote(votes, [1.0] * len(votes))


def quality_weight(accuracy: float, *, n_classes: int = 2, max_accuracy: float = 0.99) -> float:
    """An annotator's vote weight from their measured accuracy p over K classes.

    w = ln(p / (1 - p)) + ln(K - 1): the optimal weight for independent annotators whose errors
    spread evenly over the other classes (Nitzan & Paroush, 1982). It is 0 at chance (p = 1/K)
    and clipped to 0 below; p is capped at `max_accuracy` so that a perfect record does not get
    an infinite weight. Pass a smoothed accuracy, e.g. (correct + 1) / (total + 2), when an
    annotator has few scored items.
    """
    if not 0 <= accuracy <= 1:
        raise ValueError(f"accuracy must be in [0, 1], got {accuracy}")
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    if not 1 / n_classes < max_accuracy < 1:
        raise ValueError(f"max_accuracy must be in (1/{n_classes}, 1), got {max_accuracy}")
    p = min(accuracy, max_accuracy)
    if p <= 1 / n_classes:
        return 0.0
    return math.log(p / (1 - p)) + math.log(n_classes - 1)


@dataclass(frozen=True)
class MultiLabelVote:
    """The labels kept, and every label's share of the vote weight, by label."""

    labels: frozenset[Hashable]
    shares: Mapping[Hashable, float]


def multilabel_vote(
    label_sets: Sequence[Collection[Hashable]],
    weights: Sequence[float] | None = None,
    *,
    threshold: float = 0.5,
) -> MultiLabelVote:
    """A vote per label: kept when the share of vote weight choosing it exceeds `threshold`.

    The comparison is strict, so with the default a label chosen by exactly half is dropped.
    Weights are as in `weighted_vote` (default: all 1).
    """
    if not label_sets:
        raise ValueError("a vote needs at least one annotator")
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    weights = [1.0] * len(label_sets) if weights is None else weights
    _check_weights(weights, len(label_sets))
    if sum(weights) == 0:
        weights = [1.0] * len(label_sets)
    totals: dict[Hashable, float] = defaultdict(float)
    for chosen, weight in zip(label_sets, weights, strict=True):
        for label in set(chosen):
            totals[label] += weight
    shares = {label: totals[label] / sum(weights) for label in _in_order(totals)}
    return MultiLabelVote(
        frozenset(label for label, share in shares.items() if share > threshold), shares
    )


def _in_order(labels: Collection[Hashable]) -> list[Hashable]:
    try:
        return sorted(cast(Collection[Any], labels))
    except TypeError:
        return sorted(labels, key=repr)
