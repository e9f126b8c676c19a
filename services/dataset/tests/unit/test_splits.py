"""Stratified, grouped and stable splits."""

from __future__ import annotations

from collections import Counter

import pytest

from labelmesh.core.errors import InvalidField
from labelmesh.dataset.splits import assign, check_ratios, units_of

RATIOS = {"train": 0.7, "validation": 0.15, "test": 0.15}


def per_class(
    items: list[tuple[str, str, list[str]]], splits: dict[str, str]
) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = {}
    for item_id, _, classes in items:
        for c in set(classes):
            counts.setdefault(c, Counter())[splits[item_id]] += 1
    return counts


def test_each_class_is_split_in_the_ratios_even_when_rare() -> None:
    items = [(f"i{n}", "", ["common"] if n % 20 else ["rare"]) for n in range(2000)]
    splits = assign(units_of(items), RATIOS, seed=7)
    counts = per_class(items, splits)
    assert counts["rare"] == Counter({"train": 70, "validation": 15, "test": 15})
    assert counts["common"] == Counter({"train": 1330, "validation": 285, "test": 285})


def test_multi_label_items_keep_every_class_close_to_its_ratio() -> None:
    items = [
        (f"i{n}", "", [c for c, every in (("a", 2), ("b", 3), ("c", 7)) if n % every == 0] or ["d"])
        for n in range(3000)
    ]
    counts = per_class(items, assign(units_of(items), RATIOS, seed=1))
    for c, found in counts.items():
        total = sum(found.values())
        for name, ratio in RATIOS.items():
            assert abs(found[name] - ratio * total) <= 0.03 * total + 2, (c, found)


def test_a_group_stays_in_one_split() -> None:
    items = [(f"i{n}", f"patient-{n // 10}", ["x" if n % 3 else "y"]) for n in range(500)]
    splits = assign(units_of(items), RATIOS, seed=3)
    by_group: dict[str, set[str]] = {}
    for item_id, group, _ in items:
        by_group.setdefault(group, set()).add(splits[item_id])
    assert all(len(found) == 1 for found in by_group.values())
    assert set(splits.values()) == set(RATIOS)


def test_the_same_seed_gives_the_same_splits_and_another_seed_others() -> None:
    items = [(f"i{n}", "", ["a" if n % 4 else "b"]) for n in range(400)]
    assert assign(units_of(items), RATIOS, 5) == assign(units_of(list(reversed(items))), RATIOS, 5)
    assert assign(units_of(items), RATIOS, 5) != assign(units_of(items), RATIOS, 6)


def test_items_placed_before_keep_their_split_when_new_ones_arrive() -> None:
    first = [(f"i{n}", "", ["a" if n % 4 else "b"]) for n in range(400)]
    placed = assign(units_of(first), RATIOS, seed=9)
    grown = first + [(f"new{n}", "", ["a" if n % 4 else "b"]) for n in range(400)]
    again = assign(units_of(grown), RATIOS, seed=9, placed=placed)
    assert {i: again[i] for i in placed} == placed
    counts = per_class(grown, again)
    assert counts["b"] == Counter({"train": 140, "validation": 30, "test": 30})


@pytest.mark.parametrize(
    ("ratios", "field"),
    [
        ({}, "split.ratios"),
        ({"train": 0.8, "test": 0.1}, "split.ratios"),
        ({"train": 1.2, "test": -0.2}, "split.ratios.train"),
    ],
)
def test_ratios_that_cannot_split_are_refused(ratios: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidField) as refused:
        check_ratios(ratios)
    assert refused.value.field == field
