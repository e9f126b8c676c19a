"""Inter-annotator agreement: Cohen's kappa, Fleiss' kappa, Krippendorff's alpha. Pure: no I/O.

Conventions shared by every function here:

- A missing rating is ``None`` or a float NaN.
- A statistic is undefined, and returned as NaN, when every rating it compares falls in one
  category (expected agreement is 1, so there is no chance to correct for). scikit-learn and
  statsmodels return NaN there too; the ``krippendorff`` package raises ValueError instead.
- Input with nothing to compare (no ratings, no item rated twice) raises ValueError.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, cast

import numpy as np
import numpy.typing as npt

from labelmesh.v1.geometry_pb2 import Label

Weighting = Literal["linear", "quadratic"]
Level = Literal["nominal", "interval"]
# Raters x units, as the ``krippendorff`` package takes it; None or NaN where a rater gave none.
RatingMatrix = Sequence[Sequence[Hashable]] | npt.NDArray[Any]
IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]
RaterT = TypeVar("RaterT", bound=Hashable)
UnitT = TypeVar("UnitT", bound=Hashable)


def is_missing(rating: object) -> bool:
    return rating is None or (isinstance(rating, float | np.floating) and math.isnan(rating))


def category_of(label: Label) -> str:
    """The class name of a classification label, as a rating for the functions here."""
    kind = label.WhichOneof("kind")
    if kind != "classification":
        raise ValueError(f"label kind {kind!r} is not a classification")
    return label.classification.label


# --- encoding ratings as category codes ------------------------------------------------------


def _sorted_categories(ratings: Iterable[Hashable]) -> tuple[Hashable, ...]:
    unique = set(ratings)
    try:
        return tuple(sorted(cast(set[Any], unique)))
    except TypeError:
        raise TypeError(
            f"categories {sorted(map(repr, unique))} cannot be ordered; pass categories="
        ) from None


def _encode(
    ratings: npt.NDArray[Any], categories: Sequence[Hashable] | None
) -> tuple[IntArray, tuple[Hashable, ...]]:
    """Each rating's position in the category order (-1 where missing), and that order.

    The order is `categories` if given, else the sorted distinct ratings.
    """
    if categories is None and ratings.dtype.kind in "biuf":
        present = ~np.isnan(ratings) if ratings.dtype.kind == "f" else np.ones(ratings.shape, bool)
        unique, inverse = np.unique(ratings[present], return_inverse=True)
        codes = np.full(ratings.shape, -1, dtype=np.intp)
        codes[present] = inverse
        return codes, tuple(unique.tolist())
    flat = ratings.ravel().tolist()
    order = (
        tuple(categories)
        if categories is not None
        else _sorted_categories(r for r in flat if not is_missing(r))
    )
    position = {category: i for i, category in enumerate(order)}
    if len(position) != len(order):
        raise ValueError(f"categories {order!r} repeat a category")
    try:
        coded = [-1 if is_missing(r) else position[r] for r in flat]
    except KeyError as error:
        raise ValueError(
            f"rating {error.args[0]!r} is not one of the categories {order!r}"
        ) from None
    return np.array(coded, dtype=np.intp).reshape(ratings.shape), order


def _as_matrix(reliability_data: RatingMatrix) -> npt.NDArray[Any]:
    try:
        matrix = np.asarray(reliability_data)
    except ValueError as error:
        raise ValueError(f"reliability data must be a raters x units matrix: {error}") from None
    if matrix.ndim != 2:
        raise ValueError(
            f"reliability data must be a raters x units matrix, got shape {matrix.shape}"
        )
    if matrix.size == 0:
        raise ValueError(f"reliability data is empty (shape {matrix.shape})")
    return matrix


def _unit_counts(codes: IntArray, n_categories: int) -> IntArray:
    """Units x categories: how many raters put each unit (column of `codes`) in each category."""
    units = np.broadcast_to(np.arange(codes.shape[1]), codes.shape)
    rated = codes >= 0
    flat = np.bincount(
        units[rated] * n_categories + codes[rated], minlength=codes.shape[1] * n_categories
    )
    return flat.reshape(codes.shape[1], n_categories)


# --- Cohen's kappa ---------------------------------------------------------------------------


def _disagreement_weights(n_categories: int, weights: Weighting | None) -> FloatArray:
    positions = np.arange(n_categories, dtype=float)
    distance: FloatArray = np.abs(positions[:, None] - positions[None, :])
    if weights is None:
        return (distance > 0).astype(np.float64)
    if weights == "linear":
        return distance
    if weights == "quadratic":
        return distance**2
    raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")


def _kappa_of_codes(
    codes_a: IntArray, codes_b: IntArray, n_categories: int, weights: Weighting | None
) -> float:
    pairs = np.bincount(codes_a * n_categories + codes_b, minlength=n_categories**2)
    observed = pairs.reshape(n_categories, n_categories) / codes_a.size
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    weight = _disagreement_weights(n_categories, weights)
    chance_disagreement = float((weight * expected).sum())
    # A sum of non-negative products is exactly 0 only when both raters used one category.
    if chance_disagreement == 0:
        return math.nan
    return 1.0 - float((weight * observed).sum()) / chance_disagreement


def cohen_kappa(
    rater_a: Sequence[Hashable],
    rater_b: Sequence[Hashable],
    *,
    weights: Weighting | None = None,
    categories: Sequence[Hashable] | None = None,
) -> float:
    """Cohen's kappa of two raters who rated the same items, item by item.

    kappa = 1 - sum(w * O) / sum(w * E), with O the observed joint distribution of the two
    raters' categories, E the product of its marginals, and w the disagreement weight: 1 off the
    diagonal (unweighted), |i - j| (linear) or (i - j)² (quadratic), where i and j are positions
    in `categories` (default: the sorted categories either rater used, as scikit-learn does).
    Items where either rating is missing are left out. NaN when both raters used one category.
    """
    if len(rater_a) != len(rater_b):
        raise ValueError(f"raters rated {len(rater_a)} and {len(rater_b)} items; they must match")
    if not rater_a:
        raise ValueError("cohen_kappa needs at least one rated item")
    codes, order = _encode(_as_matrix([list(rater_a), list(rater_b)]), categories)
    both = (codes >= 0).all(axis=0)
    if not both.any():
        raise ValueError("no item has ratings from both raters")
    return _kappa_of_codes(codes[0, both], codes[1, both], len(order), weights)


@dataclass(frozen=True)
class PairKappa(Generic[RaterT]):
    """Cohen's kappa of one pair of raters over the items both rated."""

    rater_a: RaterT
    rater_b: RaterT
    shared_items: int
    kappa: float


@dataclass(frozen=True)
class ReliabilityData(Generic[RaterT, UnitT]):
    """Ratings as a raters x units matrix: values[r, u] is rater r's rating of unit u, or None."""

    raters: tuple[RaterT, ...]
    units: tuple[UnitT, ...]
    values: npt.NDArray[np.object_]


def reliability_matrix(
    ratings: Mapping[RaterT, Mapping[UnitT, Hashable]],
) -> ReliabilityData[RaterT, UnitT]:
    """The raters x units matrix of ratings given as {rater: {unit: rating}}.

    Raters keep the mapping's order and units their order of first appearance.
    """
    units = tuple(dict.fromkeys(unit for by_unit in ratings.values() for unit in by_unit))
    if not units:
        raise ValueError("no rater rated any unit")
    column = {unit: i for i, unit in enumerate(units)}
    values = np.full((len(ratings), len(units)), None, dtype=object)
    for row, by_unit in enumerate(ratings.values()):
        for unit, rating in by_unit.items():
            values[row, column[unit]] = rating
    return ReliabilityData(tuple(ratings), units, values)


def pairwise_cohen_kappa(
    ratings: Mapping[RaterT, Mapping[UnitT, Hashable]],
    *,
    min_shared_items: int,
    weights: Weighting | None = None,
    categories: Sequence[Hashable] | None = None,
) -> list[PairKappa[RaterT]]:
    """Cohen's kappa of every pair of raters ({rater: {item: rating}}) sharing enough items.

    Each pair is scored on the items both rated; pairs sharing fewer than `min_shared_items`
    are left out. Weighted kappa places categories by their position among all raters' sorted
    categories (or `categories`), so that every pair is weighted on the same scale.
    """
    if min_shared_items < 1:
        raise ValueError(f"min_shared_items must be at least 1, got {min_shared_items}")
    data = reliability_matrix(ratings)
    codes, order = _encode(data.values, categories)
    rated = (codes >= 0).astype(np.int64)
    shared = rated @ rated.T
    results = []
    for a, b in zip(*np.triu_indices(len(data.raters), k=1), strict=True):
        if shared[a, b] < min_shared_items:
            continue
        both = (codes[a] >= 0) & (codes[b] >= 0)
        kappa = _kappa_of_codes(codes[a, both], codes[b, both], len(order), weights)
        results.append(PairKappa(data.raters[a], data.raters[b], int(shared[a, b]), kappa))
    return results


# --- Fleiss' kappa ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CountTable:
    """counts[i, j]: how many raters put the input's item items[i] in categories[j]."""

    counts: IntArray
    categories: tuple[Hashable, ...]
    items: IntArray


def fleiss_table(
    item_ratings: Sequence[Sequence[Hashable]],
    *,
    categories: Sequence[Hashable] | None = None,
    raters_per_item: int | None = None,
) -> CountTable:
    """The items x categories count table for `fleiss_kappa`, from each item's ratings.

    Missing ratings are ignored. Fleiss' kappa assumes every item has the same number of
    ratings, so items with another number than `raters_per_item` (default: the most common
    number of at least two, the larger on a tie) are dropped; `items` lists the ones kept.
    `krippendorff_alpha` uses every item with two ratings or more instead.
    """
    if not item_ratings:
        raise ValueError("fleiss_table needs at least one item")
    lengths = [len(ratings) for ratings in item_ratings]
    flat = np.empty(sum(lengths), dtype=object)
    flat[:] = [rating for ratings in item_ratings for rating in ratings]
    codes, order = _encode(flat, categories)
    item_of = np.repeat(np.arange(len(item_ratings)), lengths)
    rated = codes >= 0
    counts = np.bincount(
        item_of[rated] * len(order) + codes[rated], minlength=len(item_ratings) * len(order)
    ).reshape(len(item_ratings), len(order))
    per_item = counts.sum(axis=1)
    keep = per_item == _raters_per_item(per_item, raters_per_item)
    return CountTable(counts[keep], order, np.flatnonzero(keep))


def _raters_per_item(per_item: IntArray, requested: int | None) -> int:
    if requested is not None:
        if requested < 2:
            raise ValueError(f"raters_per_item must be at least 2, got {requested}")
        return requested
    frequency = Counter(int(n) for n in per_item if n >= 2)
    if not frequency:
        raise ValueError("no item has two ratings or more")
    return max(frequency, key=lambda n: (frequency[n], n))


def fleiss_kappa(counts: npt.ArrayLike) -> float:
    """Fleiss' kappa of an items x categories table of rating counts.

    Every item must have the same number n ≥ 2 of ratings. With P_i = (Σ_j n_ij² - n) /
    (n (n - 1)) the share of agreeing rater pairs on item i and p_j the share of all ratings in
    category j: kappa = (mean_i P_i - Σ_j p_j²) / (1 - Σ_j p_j²). NaN when every rating is one
    category.
    """
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2 or table.size == 0:
        raise ValueError(f"counts must be a non-empty items x categories table, got {table.shape}")
    if not np.isfinite(table).all() or (table < 0).any():
        raise ValueError("counts must be finite and non-negative")
    per_item = table.sum(axis=1)
    uneven = np.flatnonzero(per_item != per_item[0])
    if uneven.size:
        raise ValueError(
            f"every item needs the same number of ratings: item 0 has {per_item[0]:g}, "
            f"item {uneven[0]} has {per_item[uneven[0]]:g} (fleiss_table drops such items)"
        )
    n = per_item[0]
    if n < 2:
        raise ValueError(f"Fleiss' kappa needs at least two ratings per item, got {n:g}")
    agreeing_pairs = ((table**2).sum(axis=1) - n) / (n * (n - 1))
    shares = table.sum(axis=0) / table.sum()
    chance = float((shares**2).sum())
    if chance >= 1:
        return math.nan
    return (float(agreeing_pairs.mean()) - chance) / (1 - chance)


# --- Krippendorff's alpha and specific agreement ---------------------------------------------


def krippendorff_alpha(reliability_data: RatingMatrix, *, level: Level) -> float:
    """Krippendorff's alpha of a raters x units matrix, with any ratings missing.

    alpha = 1 - D_o / D_e over the pairable ratings, those of units rated at least twice; other
    units are left out. D_o is the mean distance δ² between two ratings of the same unit (a unit
    with m ratings weighs each of its ordered pairs 1 / (m - 1)), D_e the mean distance between
    any two pairable ratings. δ² is 0 or 1 for equal or different categories (nominal) or
    (a - b)² (interval). NaN when every pairable rating is the same.
    """
    matrix = _as_matrix(reliability_data)
    if level == "nominal":
        codes, order = _encode(matrix, None)
        return _nominal_alpha(_unit_counts(codes, len(order)))
    if level == "interval":
        return _interval_alpha(_as_numbers(matrix))
    raise ValueError(f"level must be 'nominal' or 'interval', got {level!r}")


def _pairable(per_unit: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    pairable = per_unit >= 2
    if not pairable.any():
        raise ValueError("no unit has ratings from two raters or more")
    return pairable


def _nominal_alpha(counts: IntArray) -> float:
    per_unit = counts.sum(axis=1)
    pairable = _pairable(per_unit)
    table = counts[pairable].astype(float)
    m = per_unit[pairable].astype(float)
    n = m.sum()
    # Ordered pairs of a unit's ratings in different categories: m² minus the matching ones.
    observed = ((m**2 - (table**2).sum(axis=1)) / (m - 1)).sum()
    expected = (n**2 - (table.sum(axis=0) ** 2).sum()) / (n - 1)
    if expected == 0:
        return math.nan
    return float(1 - observed / expected)


def _as_numbers(matrix: npt.NDArray[Any]) -> FloatArray:
    try:
        values = matrix.astype(float)
    except (TypeError, ValueError):
        raise ValueError(
            "interval alpha needs numeric ratings (None or NaN where missing)"
        ) from None
    if np.isinf(values).any():
        raise ValueError("interval ratings must be finite")
    return values


def _interval_alpha(values: FloatArray) -> float:
    rated = ~np.isnan(values)
    per_unit = rated.sum(axis=0)
    pairable = _pairable(per_unit)
    rated, values, m = rated[:, pairable], values[:, pairable], per_unit[pairable]
    present = values[rated]
    if present.min() == present.max():
        return math.nan
    # Deviations from means, rather than sums of squares, so that large values do not cancel.
    unit_means = np.where(rated, values, 0.0).sum(axis=0) / m
    within_unit = np.where(rated, values - unit_means, 0.0)
    # Σ_{i≠j} (v_i - v_j)² = 2 m Σ_i (v_i - mean)², within each unit and over all pairable ratings.
    observed = (2 * m * (within_unit**2).sum(axis=0) / (m - 1)).sum()
    n = m.sum()
    expected = 2 * n * ((present - present.mean()) ** 2).sum() / (n - 1)
    return float(1 - observed / expected)


def specific_agreement(reliability_data: RatingMatrix) -> dict[Hashable, float]:
    """Proportion of specific agreement of each category, over a raters x units matrix.

    For category j: Σ_u n_uj (n_uj - 1) / Σ_u n_uj (m_u - 1), over the units u rated m_u ≥ 2
    times, n_uj of them as j; that is, of the pairs of ratings of a unit that involve j, the
    share where both are j (Uebersax 1982, after Fleiss 1975). For two raters it is
    2a / (2a + b + c), the F1 of one rater against the other on j. Unlike a one-vs-rest kappa
    it takes any number of raters per unit, but it is not corrected for chance: read it next to
    kappa or alpha. NaN for a category no pairable unit received.
    """
    matrix = _as_matrix(reliability_data)
    codes, order = _encode(matrix, None)
    counts = _unit_counts(codes, len(order))
    per_unit = counts.sum(axis=1)
    pairable = _pairable(per_unit)
    table = counts[pairable].astype(float)
    agreeing = (table * (table - 1)).sum(axis=0)
    possible = (table * (per_unit[pairable, None] - 1)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(possible > 0, agreeing / possible, math.nan)
    return dict(zip(order, shares.tolist(), strict=True))
