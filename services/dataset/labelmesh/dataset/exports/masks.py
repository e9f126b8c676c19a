"""LabelMesh's masks as pixels and back: row-major run lengths, starting with
a run of zeros, of a width x height grid."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from labelmesh.dataset.exports.base import ExportFailed
from labelmesh.v1.dataset_service_pb2 import DatasetItem
from labelmesh.v1.geometry_pb2 import Mask

Bits = NDArray[np.uint8]


def mask_bits(item: DatasetItem, mask: Mask) -> Bits:
    """The mask as a height x width array of 0 and 1; ExportFailed naming the
    item when its runs do not cover the grid exactly."""
    counts = np.fromiter(mask.counts, dtype=np.int64, count=len(mask.counts))
    if int(counts.sum()) != mask.width * mask.height:
        raise ExportFailed(
            f"item {item.item_id}: a {mask.label!r} mask's runs cover {int(counts.sum())} "
            f"pixels, not {mask.width}x{mask.height}"
        )
    values = (np.arange(counts.size) % 2).astype(np.uint8)
    bits: Bits = np.repeat(values, counts).reshape(mask.height, mask.width)
    return bits


def run_lengths(bits: Bits, order: str = "C") -> list[int]:
    """Run lengths of the set and unset pixels read row by row ("C") or column
    by column ("F", COCO's order), from a run of zeros (0 when the first pixel is set)."""
    flat = np.ravel(bits, order=order) != 0  # type: ignore[call-overload]
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs: list[int] = np.diff(np.concatenate(([0], changes, [flat.size]))).tolist()
    if flat.size and flat[0]:
        runs.insert(0, 0)
    return runs
