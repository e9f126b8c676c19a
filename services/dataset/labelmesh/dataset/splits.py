"""Train, validation and test splits: stratified by class, grouped, and stable.

Iterative stratification (Sechidis, Tsoumakas and Vlahavas, 2011) assigns
the units holding the rarest class first, each to the split that most lacks
that class. The libraries that implement it (scikit-multilearn,
iterative-stratification) split a whole set at once; here the units a parent
version already placed keep their split and count toward the targets, so
that an item keeps its split when new items arrive. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from labelmesh.core.errors import InvalidField


@dataclass
class SplitUnit:
    """Items that go to one split together: one item, or every item of a group."""

    key: str
    items: list[str] = field(default_factory=list)
    classes: Counter[str] = field(default_factory=Counter)


def check_ratios(ratios: Mapping[str, float], at: str = "split.ratios") -> None:
    if not ratios:
        raise InvalidField(at, "name at least one split")
    for name, ratio in ratios.items():
        if not name:
            raise InvalidField(at, "a split needs a name")
        if not 0.0 < ratio <= 1.0:
            raise InvalidField(f"{at}.{name}", "must be within (0, 1]")
    if abs(sum(ratios.values()) - 1.0) > 1e-6:
        raise InvalidField(at, f"must add up to 1, not {sum(ratios.values()):g}")


def units_of(
    items: Iterable[tuple[str, str, Sequence[str]]],
) -> list[SplitUnit]:
    """Units from (item id, group key or "", class of each label) triples."""
    units: dict[str, SplitUnit] = {}
    for item_id, group, classes in items:
        key = f"group:{group}" if group else f"item:{item_id}"
        unit = units.setdefault(key, SplitUnit(key))
        unit.items.append(item_id)
        unit.classes.update(set(classes))
    return list(units.values())


def assign(
    units: Sequence[SplitUnit],
    ratios: Mapping[str, float],
    seed: int,
    placed: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The split of every item. A unit with an item in `placed` (item id to
    split) goes where that item went; the others are stratified around them.
    The same units, ratios, seed and placements always give the same result."""
    placed = placed or {}
    names = sorted(ratios, key=lambda name: _rank(seed, name))
    totals: Counter[str] = Counter()
    for unit in units:
        totals.update(unit.classes)
    items_total = sum(len(u.items) for u in units)
    # What each split still lacks, per class and in items.
    wanted = {name: {c: ratios[name] * n for c, n in totals.items()} for name in names}
    room = {name: ratios[name] * items_total for name in names}
    result: dict[str, str] = {}

    def put(unit: SplitUnit, name: str) -> None:
        for item_id in unit.items:
            result[item_id] = name
        for c, n in unit.classes.items():
            wanted[name][c] -= n
        room[name] -= len(unit.items)

    open_units = []
    for unit in units:
        before = next((placed[i] for i in unit.items if placed.get(i) in ratios), None)
        if before is None:
            open_units.append(unit)
        else:
            put(unit, before)
    remaining: Counter[str] = Counter()
    for unit in open_units:
        remaining.update(unit.classes)
    open_units.sort(key=lambda u: _rank(seed, u.key))
    pending = {u.key: u for u in open_units}
    holding: dict[str, list[SplitUnit]] = {}
    for unit in open_units:
        for c in unit.classes:
            holding.setdefault(c, []).append(unit)
    while remaining:
        rarest = min(remaining, key=lambda c: (remaining[c], c))
        for unit in holding[rarest]:
            if unit.key not in pending:
                continue
            name = max(names, key=lambda n: (wanted[n][rarest], room[n]))
            put(unit, name)
            remaining.subtract(unit.classes)
            del pending[unit.key]
        remaining = +remaining
    for unit in pending.values():
        put(unit, max(names, key=lambda n: room[n]))
    return result


def _rank(seed: int, key: str) -> bytes:
    return hashlib.sha256(f"{seed}:{key}".encode()).digest()
