"""A version's balance as a picture: class counts per split, as grouped bars."""

from __future__ import annotations

import io

from matplotlib.figure import Figure

from labelmesh.v1.events_pb2 import DatasetVersion


def balance_png(version: DatasetVersion) -> bytes:
    """A PNG bar chart of each split's labels per class, with each split's
    imbalance ratio in the legend. Uses no pyplot state, so that charts can be
    drawn in threads side by side."""
    balance = list(version.balance)
    classes = sorted({name for split in balance for name in split.class_counts})
    figure = Figure(figsize=(max(6.0, 0.6 * len(classes) + 3), 4.5), dpi=100)
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(balance))
    for n, split in enumerate(balance):
        positions = [c + n * width for c in range(len(classes))]
        counts = [split.class_counts.get(name, 0) for name in classes]
        label = f"{split.split or 'all'} (imbalance {split.imbalance_ratio:.1f})"
        axes.bar(positions, counts, width, label=label)
    axes.set_xticks([c + 0.4 - width / 2 for c in range(len(classes))], classes, rotation=30)
    axes.set_ylabel("labels")
    axes.set_title(f"{version.name or version.version_id[:12]}: labels per class and split")
    axes.legend()
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
