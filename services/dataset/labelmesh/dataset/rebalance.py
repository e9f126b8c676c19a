"""Balanced versions derived from a parent: class-aware undersampling, or
sampling weights. Two passes over the parent's items: `count` them, then
`apply` to each. An item's class is its rarest class in its split, so that an
item holding a rare class is never dropped for a common one. Pure: no I/O."""

from __future__ import annotations

import hashlib
from collections import Counter

from labelmesh.core.labels import class_of
from labelmesh.v1.dataset_service_pb2 import DatasetItem
from labelmesh.v1.events_pb2 import DatasetVersion, Rebalance, RebalanceMethod

UNDERSAMPLE = RebalanceMethod.REBALANCE_METHOD_UNDERSAMPLE


class Rebalancer:
    def __init__(self, parent: DatasetVersion, rebalance: Rebalance) -> None:
        self.rebalance = rebalance
        self.label_counts = {b.split: dict(b.class_counts) for b in parent.balance}
        self.items: Counter[tuple[str, str]] = Counter()
        self.ranks: dict[tuple[str, str], list[int]] = {}
        self.cutoffs: dict[tuple[str, str], int] = {}
        self.weights: dict[tuple[str, str], float] = {}

    def _key(self, item: DatasetItem) -> tuple[str, str]:
        counts = self.label_counts.get(item.split, {})
        classes = {class_of(label) or "" for label in item.labels}
        return item.split, min(classes, key=lambda c: (counts.get(c, 0), c))

    def _rank(self, item: DatasetItem) -> int:
        digest = hashlib.sha256(f"{self.rebalance.seed}:{item.item_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big")

    def count(self, items: list[DatasetItem]) -> None:
        for item in items:
            key = self._key(item)
            self.items[key] += 1
            if self.rebalance.method == UNDERSAMPLE:
                self.ranks.setdefault(key, []).append(self._rank(item))

    def finish(self) -> None:
        """Each split's cap (its rarest class's item count) or each class's weight."""
        splits: dict[str, list[tuple[str, str]]] = {}
        for key in self.items:
            splits.setdefault(key[0], []).append(key)
        for keys in splits.values():
            cap = min(self.items[k] for k in keys)
            total = sum(self.items[k] for k in keys)
            for key in keys:
                if self.rebalance.method == UNDERSAMPLE:
                    self.cutoffs[key] = sorted(self.ranks[key])[cap - 1]
                else:
                    # The weights of a split average 1, each class weighing the same.
                    self.weights[key] = total / (len(keys) * self.items[key])
        self.ranks.clear()

    def apply(self, item: DatasetItem) -> DatasetItem | None:
        """The item as the derived version holds it; None if undersampling drops it."""
        key = self._key(item)
        if self.rebalance.method == UNDERSAMPLE:
            return item if self._rank(item) <= self.cutoffs[key] else None
        item.sampling_weight = self.weights[key]
        return item
