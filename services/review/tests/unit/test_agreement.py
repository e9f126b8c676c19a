"""Agreement statistics against scikit-learn, statsmodels and krippendorff, and at the edges."""

import math

import krippendorff
import numpy as np
import numpy.typing as npt
import pytest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import cohen_kappa_score, f1_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as reference_fleiss_kappa

from labelmesh.review import agreement
from labelmesh.v1.geometry_pb2 import BoundingBox, Classification, Label

SEEDS = range(8)
NAMES = np.array(["ant", "bee", "cat", "dog", "eel", "fox"])


def noisy_ratings(
    rng: np.random.Generator, n_raters: int, n_items: int, n_categories: int
) -> npt.NDArray[np.int64]:
    """Raters x items codes: each rating is the item's true category with probability 0.7."""
    truth = rng.integers(0, n_categories, n_items)
    guesses = rng.integers(0, n_categories, (n_raters, n_items))
    return np.where(rng.random((n_raters, n_items)) < 0.7, truth, guesses)


def with_missing(
    rng: np.random.Generator, ratings: npt.NDArray[np.int64], share: float
) -> npt.NDArray[np.float64]:
    values = ratings.astype(float)
    values[rng.random(values.shape) < share] = np.nan
    return values


# --- Cohen's kappa ---------------------------------------------------------------------------


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
@pytest.mark.parametrize("seed", SEEDS)
def test_cohen_kappa_matches_scikit_learn(seed: int, weights: agreement.Weighting | None) -> None:
    rng = np.random.default_rng(seed)
    codes = noisy_ratings(rng, 2, int(rng.integers(20, 400)), int(rng.integers(2, 7)))
    a, b = NAMES[codes[0]].tolist(), NAMES[codes[1]].tolist()
    expected = cohen_kappa_score(a, b, weights=weights)
    assert agreement.cohen_kappa(a, b, weights=weights) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_weights_follow_the_given_category_order(
    weights: agreement.Weighting | None,
) -> None:
    rng = np.random.default_rng(42)
    codes = noisy_ratings(rng, 2, 300, 4)
    order = ["low", "mid", "high", "top"]
    a, b = [order[c] for c in codes[0]], [order[c] for c in codes[1]]
    expected = cohen_kappa_score(a, b, labels=order, weights=weights)
    actual = agreement.cohen_kappa(a, b, weights=weights, categories=order)
    assert actual == pytest.approx(expected, abs=1e-12)


def test_cohen_kappa_by_hand() -> None:
    # Observed agreement 0.8; chance 0.6 * 0.4 + 0.4 * 0.6 = 0.48.
    assert agreement.cohen_kappa([1, 1, 0, 0, 1], [1, 0, 0, 0, 1]) == pytest.approx(0.32 / 0.52)
    assert agreement.cohen_kappa(["a", "a", "b", "b"], ["b", "b", "a", "a"]) == pytest.approx(-1.0)
    assert agreement.cohen_kappa(["a", "b", "c"], ["a", "b", "c"]) == 1.0
    assert agreement.cohen_kappa(["a", "a"], ["b", "b"]) == 0.0


def test_cohen_kappa_leaves_out_items_missing_either_rating() -> None:
    a = ["x", "y", None, "x", "y", "x", float("nan")]
    b = ["x", "y", "x", "y", None, "x", "y"]
    assert agreement.cohen_kappa(a, b) == pytest.approx(
        cohen_kappa_score(["x", "y", "x", "x"], ["x", "y", "y", "x"])
    )


def test_cohen_kappa_of_a_single_category_is_nan_like_scikit_learn() -> None:
    assert math.isnan(agreement.cohen_kappa(["a", "a", "a"], ["a", "a", "a"]))
    assert math.isnan(
        agreement.cohen_kappa(["a", "a"], ["a", "a"], weights="quadratic", categories="abc")
    )
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(cohen_kappa_score(["a", "a", "a"], ["a", "a", "a"], labels=["a", "b"]))


def test_cohen_kappa_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one"):
        agreement.cohen_kappa([], [])
    with pytest.raises(ValueError, match="3 and 2"):
        agreement.cohen_kappa(["a", "b", "a"], ["a", "b"])
    with pytest.raises(ValueError, match="both raters"):
        agreement.cohen_kappa(["a", None], [None, "b"])
    with pytest.raises(ValueError, match="'z' is not one of the categories"):
        agreement.cohen_kappa(["a", "z"], ["a", "b"], categories=["a", "b"])
    with pytest.raises(ValueError, match="weights"):
        agreement.cohen_kappa(["a", "b"], ["a", "b"], weights="cubic")  # type: ignore[arg-type]


# --- pairwise and per-class ------------------------------------------------------------------


@pytest.mark.parametrize("weights", [None, "quadratic"])
@pytest.mark.parametrize("seed", SEEDS)
def test_pairwise_cohen_kappa_matches_scikit_learn_on_shared_items(
    seed: int, weights: agreement.Weighting | None
) -> None:
    rng = np.random.default_rng(seed)
    n_raters, n_categories = int(rng.integers(2, 6)), int(rng.integers(2, 6))
    values = with_missing(rng, noisy_ratings(rng, n_raters, 60, n_categories), 0.5)
    ratings = {
        f"annotator-{r}": {f"item-{i}": int(v) for i, v in enumerate(row) if not np.isnan(v)}
        for r, row in enumerate(values)
    }
    min_shared = 12
    pairs = agreement.pairwise_cohen_kappa(ratings, min_shared_items=min_shared, weights=weights)

    expected_pairs = []
    for a in range(n_raters):
        for b in range(a + 1, n_raters):
            both = ~np.isnan(values[a]) & ~np.isnan(values[b])
            if both.sum() >= min_shared:
                expected_pairs.append((f"annotator-{a}", f"annotator-{b}", int(both.sum())))
    assert [(p.rater_a, p.rater_b, p.shared_items) for p in pairs] == expected_pairs
    all_categories = sorted({v for by_item in ratings.values() for v in by_item.values()})
    for pair in pairs:
        shared = sorted(ratings[pair.rater_a].keys() & ratings[pair.rater_b].keys())
        expected = cohen_kappa_score(
            [ratings[pair.rater_a][i] for i in shared],
            [ratings[pair.rater_b][i] for i in shared],
            labels=all_categories,
            weights=weights,
        )
        assert pair.kappa == pytest.approx(expected, abs=1e-12)


def test_pairwise_cohen_kappa_leaves_out_pairs_sharing_too_few_items() -> None:
    ratings = {
        "ann": {"i1": "a", "i2": "b", "i3": "a"},
        "bob": {"i1": "a", "i2": "b", "i3": "b"},
        "cyd": {"i3": "a", "i4": "b"},
    }
    pairs = agreement.pairwise_cohen_kappa(ratings, min_shared_items=2)
    assert [(p.rater_a, p.rater_b, p.shared_items) for p in pairs] == [("ann", "bob", 3)]
    # Observed 2/3; chance (2/3)(1/3) + (1/3)(2/3) = 4/9.
    assert pairs[0].kappa == pytest.approx((2 / 3 - 4 / 9) / (5 / 9))


def test_reliability_matrix_places_ratings_by_rater_and_unit() -> None:
    data = agreement.reliability_matrix(
        {"ann": {"u1": "a", "u2": "b"}, "bob": {"u3": "c", "u1": "a"}}
    )
    assert data.raters == ("ann", "bob")
    assert data.units == ("u1", "u2", "u3")
    assert data.values.tolist() == [["a", "b", None], ["a", None, "c"]]


@pytest.mark.parametrize("seed", SEEDS)
def test_specific_agreement_of_two_raters_is_their_f1_per_class(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_categories = int(rng.integers(2, 6))
    codes = noisy_ratings(rng, 2, 200, n_categories)
    shares = agreement.specific_agreement(codes)
    for category, share in shares.items():
        expected = f1_score(codes[0] == category, codes[1] == category)
        assert share == pytest.approx(expected, abs=1e-12)


def test_specific_agreement_of_several_raters_by_hand() -> None:
    # Units (columns): a a a | a a b | b b -.  For "a": (6 + 2) / (6 + 4); for "b": 2 / (2 + 2).
    shares = agreement.specific_agreement([["a", "a", "b"], ["a", "a", "b"], ["a", "b", None]])
    assert shares == {"a": pytest.approx(0.8), "b": pytest.approx(0.5)}


def test_specific_agreement_of_a_category_in_no_pairable_unit_is_nan() -> None:
    shares = agreement.specific_agreement([["a", "a", "c"], ["a", "b", None]])
    assert shares["a"] == pytest.approx(2 / 3)
    assert shares["b"] == 0.0
    assert math.isnan(shares["c"])


# --- Fleiss' kappa ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_fleiss_kappa_matches_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_raters, n_categories = int(rng.integers(2, 9)), int(rng.integers(2, 7))
    ratings = noisy_ratings(rng, n_raters, int(rng.integers(10, 300)), n_categories).T
    table, _ = aggregate_raters(ratings)
    built = agreement.fleiss_table(NAMES[ratings].tolist())
    np.testing.assert_array_equal(built.counts, table)
    assert built.categories == tuple(NAMES[np.unique(ratings)])
    assert agreement.fleiss_kappa(built.counts) == pytest.approx(
        reference_fleiss_kappa(table), abs=1e-12
    )


def test_fleiss_kappa_by_hand() -> None:
    # Items agree on 1 and 1/3 of their rater pairs; category shares 4/6 and 2/6.
    assert agreement.fleiss_kappa([[3, 0], [1, 2]]) == pytest.approx((2 / 3 - 5 / 9) / (4 / 9))
    assert agreement.fleiss_kappa([[3, 0], [0, 3]]) == 1.0


def test_fleiss_kappa_of_a_single_category_is_nan() -> None:
    assert math.isnan(agreement.fleiss_kappa([[4, 0], [4, 0]]))
    assert math.isnan(
        agreement.fleiss_kappa(agreement.fleiss_table([["a", "a"], ["a", "a"]]).counts)
    )


def test_fleiss_table_keeps_items_with_the_most_common_number_of_ratings() -> None:
    items: list[list[str | None]] = [["a", "a", "b"], ["a", "b"], ["b", "b", "b"], ["a", None, "a"]]
    items.append(["b"])
    # Two items have three ratings and two have two: the tie goes to three.
    table = agreement.fleiss_table(items)
    assert table.categories == ("a", "b")
    assert table.items.tolist() == [0, 2]
    assert table.counts.tolist() == [[2, 1], [0, 3]]
    two_each = agreement.fleiss_table(items, raters_per_item=2)
    assert two_each.items.tolist() == [1, 3]
    assert two_each.counts.tolist() == [[1, 1], [2, 0]]
    with_unused = agreement.fleiss_table(items, categories=["b", "a", "c"])
    assert with_unused.counts.tolist() == [[1, 2, 0], [3, 0, 0]]


def test_fleiss_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="item 1 has 2"):
        agreement.fleiss_kappa([[3, 0], [1, 1]])
    with pytest.raises(ValueError, match="at least two ratings"):
        agreement.fleiss_kappa([[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="non-empty"):
        agreement.fleiss_kappa(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="non-negative"):
        agreement.fleiss_kappa([[3, -1], [1, 1]])
    with pytest.raises(ValueError, match="at least one item"):
        agreement.fleiss_table([])
    with pytest.raises(ValueError, match="two ratings or more"):
        agreement.fleiss_table([["a"], [None, "b"]])
    with pytest.raises(ValueError, match="raters_per_item"):
        agreement.fleiss_table([["a", "b"]], raters_per_item=1)


# --- Krippendorff's alpha --------------------------------------------------------------------


@pytest.mark.parametrize("level", ["nominal", "interval"])
@pytest.mark.parametrize("seed", SEEDS)
def test_krippendorff_alpha_matches_the_krippendorff_package(
    seed: int, level: agreement.Level
) -> None:
    rng = np.random.default_rng(seed)
    n_raters, n_categories = int(rng.integers(2, 7)), int(rng.integers(2, 8))
    ratings = noisy_ratings(rng, n_raters, int(rng.integers(30, 300)), n_categories)
    values = with_missing(rng, ratings, float(rng.uniform(0, 0.6)))
    expected = krippendorff.alpha(reliability_data=values, level_of_measurement=level)
    assert agreement.krippendorff_alpha(values, level=level) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("seed", SEEDS)
def test_interval_alpha_of_continuous_ratings_matches_the_krippendorff_package(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.normal(50, 10, 80)
    values = truth + rng.normal(0, 5, (4, 80))
    values[rng.random(values.shape) < 0.3] = np.nan
    expected = krippendorff.alpha(reliability_data=values, level_of_measurement="interval")
    assert agreement.krippendorff_alpha(values, level="interval") == pytest.approx(
        expected, abs=1e-10
    )


def test_nominal_alpha_takes_any_categories_and_none_for_missing() -> None:
    rng = np.random.default_rng(7)
    values = with_missing(rng, noisy_ratings(rng, 3, 100, 4), 0.3)
    as_names = [[None if np.isnan(v) else str(NAMES[int(v)]) for v in row] for row in values]
    expected = krippendorff.alpha(reliability_data=values, level_of_measurement="nominal")
    assert agreement.krippendorff_alpha(as_names, level="nominal") == pytest.approx(
        expected, abs=1e-12
    )


def test_alpha_leaves_out_units_rated_fewer_than_twice() -> None:
    values = np.array([[1, 2, 3, 3, np.nan], [1, 2, 3, 1, 4], [np.nan, 2, 1, 3, np.nan]])
    pairable_only = values[:, :4]
    levels: tuple[agreement.Level, ...] = ("nominal", "interval")
    for level in levels:
        assert agreement.krippendorff_alpha(values, level=level) == pytest.approx(
            agreement.krippendorff_alpha(pairable_only, level=level)
        )
        assert agreement.krippendorff_alpha(values, level=level) == pytest.approx(
            krippendorff.alpha(reliability_data=values, level_of_measurement=level)
        )


def test_alpha_of_two_raters_by_hand() -> None:
    # Eight pairable values, five 1s and three 2s; one unit disagrees, in its two ordered pairs.
    values = [[1, 1, 2, 1], [1, 2, 2, 1]]
    expected = 1 - (8 - 1) * 2 / (8**2 - 5**2 - 3**2)
    assert agreement.krippendorff_alpha(values, level="nominal") == pytest.approx(expected)


def test_alpha_of_perfect_agreement_is_one() -> None:
    values: list[list[int | None]] = [[1, 2, 3, None], [1, 2, 3, 3], [None, 2, 3, 3]]
    assert agreement.krippendorff_alpha(values, level="nominal") == 1.0
    assert agreement.krippendorff_alpha(values, level="interval") == 1.0


def test_alpha_of_a_single_value_is_nan_where_the_package_raises() -> None:
    values = [[2.5, 2.5, np.nan], [2.5, 2.5, 2.5]]
    assert math.isnan(agreement.krippendorff_alpha(values, level="nominal"))
    assert math.isnan(agreement.krippendorff_alpha(values, level="interval"))
    with pytest.raises(ValueError, match="more than one value"):
        krippendorff.alpha(reliability_data=values, level_of_measurement="nominal")


def test_alpha_rejects_input_with_nothing_to_compare() -> None:
    with pytest.raises(ValueError, match="empty"):
        agreement.krippendorff_alpha([[]], level="nominal")
    with pytest.raises(ValueError, match="two raters or more"):
        agreement.krippendorff_alpha([[1, None], [None, 2]], level="nominal")
    with pytest.raises(ValueError, match="two raters or more"):
        agreement.krippendorff_alpha([[None, None], [None, None]], level="interval")
    with pytest.raises(ValueError, match="raters x units"):
        agreement.krippendorff_alpha([1, 2, 3], level="nominal")  # type: ignore[list-item]
    with pytest.raises(ValueError, match="numeric"):
        agreement.krippendorff_alpha([["a", "b"], ["a", "a"]], level="interval")
    with pytest.raises(ValueError, match="level"):
        agreement.krippendorff_alpha([[1, 2], [1, 2]], level="ordinal")  # type: ignore[arg-type]


def test_category_of_reads_a_classification() -> None:
    assert agreement.category_of(Label(classification=Classification(label="spam"))) == "spam"
    with pytest.raises(ValueError, match="'bounding_box' is not a classification"):
        agreement.category_of(Label(bounding_box=BoundingBox(label="car")))
