"""Object keypoint similarity (OKS) of skeletons, and their consensus."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from labelmesh.review.consensus.geometry import (
    BoolArray,
    FloatArray,
    ShapeConsensus,
    medoid,
    shape_consensus,
)
from labelmesh.v1.geometry_pb2 import Keypoints

# About the mean of COCO's 17 person-keypoint sigmas (0.025 at the eyes to 0.107 at the hips),
# a middle tolerance for skeletons with no measured sigmas of their own.
DEFAULT_KEYPOINT_SIGMA = 0.07


def object_keypoint_similarity(
    reference: npt.ArrayLike,
    candidate: npt.ArrayLike,
    *,
    area: float,
    sigmas: float | npt.ArrayLike = DEFAULT_KEYPOINT_SIGMA,
    labelled: npt.ArrayLike | None = None,
) -> float:
    """COCO's object keypoint similarity of two placements (k x 2) of the same k keypoints.

    OKS = mean over the keypoints the reference labelled of exp(-d_i² / (2 s² k_i²)), with d_i
    the distance between the two placements, s² the object's area and k_i = 2 sigma_i, as in COCO's
    evaluation. 1 when identical, falling towards 0 as points drift beyond about k_i s. A
    keypoint the candidate did not place (NaN) scores 0. NaN when the reference labelled none.
    """
    ref = np.asarray(reference, dtype=float)
    cand = np.asarray(candidate, dtype=float)
    if ref.ndim != 2 or ref.shape[1] != 2 or cand.shape != ref.shape:
        raise ValueError(f"keypoints must be two k x 2 arrays, got {ref.shape} and {cand.shape}")
    if not area > 0:
        raise ValueError(f"area must be positive, got {area}")
    k = 2 * np.broadcast_to(np.asarray(sigmas, dtype=float), ref.shape[:1])
    if not (k > 0).all():
        raise ValueError("keypoint sigmas must be positive")
    counted = np.ones(len(ref), bool) if labelled is None else np.asarray(labelled, dtype=bool)
    if counted.shape != ref.shape[:1]:
        raise ValueError(f"labelled must have one flag per keypoint, got {counted.shape}")
    if not counted.any():
        return math.nan
    squared_distance = ((ref - cand) ** 2).sum(axis=1)
    similarity = np.exp(-squared_distance / (2 * area * k**2))
    return float(np.nan_to_num(similarity[counted], nan=0.0).mean())


def keypoints_oks(
    reference: Keypoints,
    candidate: Keypoints,
    *,
    area: float | None = None,
    sigmas: float | Mapping[str, float] = DEFAULT_KEYPOINT_SIGMA,
) -> float:
    """OKS of two keypoint sets, keypoints paired by name.

    A keypoint counts when the reference placed it (visibility > 0); one the candidate left
    out or marked hidden (visibility 0) scores 0. `area` is the object's area, e.g. its box's
    width x height; by default the area of the box around the reference's placed keypoints.
    `sigmas` may be given per keypoint name.
    """
    placed = _placed_points(reference)
    offered = _placed_points(candidate)
    names = list(placed)
    if not names:
        return math.nan
    ref = np.array([placed[name] for name in names])
    cand = np.array([offered.get(name, (math.nan, math.nan)) for name in names])
    if area is None:
        area = float(np.prod(ref.max(axis=0) - ref.min(axis=0)))
        if area <= 0:
            raise ValueError("the reference keypoints span no area; pass area=, e.g. of its box")
    if isinstance(sigmas, Mapping):
        missing = [name for name in names if name not in sigmas]
        if missing:
            raise ValueError(f"no sigma for keypoints {missing}")
        per_keypoint: float | list[float] = [sigmas[name] for name in names]
    else:
        per_keypoint = sigmas
    return object_keypoint_similarity(ref, cand, area=area, sigmas=per_keypoint)


def symmetric_oks(a: Keypoints, b: Keypoints) -> float:
    """The mean of `keypoints_oks` both ways; 0 where undefined, e.g. a set that placed no
    keypoint or spans no area."""
    try:
        both = (keypoints_oks(a, b) + keypoints_oks(b, a)) / 2
    except ValueError:  # a set spanning no area has no scale to compare at
        return 0.0
    return 0.0 if math.isnan(both) else both


def _oks_matrix(sets: list[Keypoints], wanted: BoolArray) -> FloatArray:
    """Symmetric OKS of keypoint sets, where `wanted` (0 elsewhere)."""
    similarity = np.zeros(wanted.shape)
    for i, j in zip(*np.nonzero(np.triu(wanted, k=1)), strict=True):
        similarity[i, j] = similarity[j, i] = symmetric_oks(sets[i], sets[j])
    return similarity


def keypoints_consensus(
    annotations: Sequence[Sequence[Keypoints]], *, oks_threshold: float = 0.5
) -> ShapeConsensus[Keypoints]:
    """Skeletons placed by several annotators, matched one-to-one by OKS as boxes are by IoU.

    The consensus skeleton of a cluster is its medoid; `agreement` is the mean pairwise OKS
    credit, as for boxes.
    """
    return shape_consensus(annotations, _oks_matrix, medoid, oks_threshold)


def _placed_points(keypoints: Keypoints) -> dict[str, tuple[float, float]]:
    names = [point.name for point in keypoints.points]
    if len(set(names)) != len(names):
        raise ValueError(f"keypoint names repeat: {names}")
    return {
        point.name: (point.position.x, point.position.y)
        for point in keypoints.points
        if point.visibility > 0
    }
