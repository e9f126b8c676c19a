"""IoU of boxes, polygons and intervals; Hungarian matching; consensus of drawn shapes."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt
import shapely
from scipy.optimize import linear_sum_assignment

from labelmesh.review.consensus._labels import geometry_of
from labelmesh.v1.geometry_pb2 import Keypoints, Label

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

# --- shapes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """An axis-aligned box: class name, left, top, width and height in pixels."""

    label: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class PolygonShape:
    """A closed polygon: class name and vertices (x, y) in drawing order."""

    label: str
    points: tuple[tuple[float, float], ...]


def box_from_label(label: Label) -> Box:
    box = geometry_of(label, "bounding_box")
    return Box(box.label, box.x, box.y, box.width, box.height)


def polygon_from_label(label: Label) -> PolygonShape:
    polygon = geometry_of(label, "polygon")
    return PolygonShape(polygon.label, tuple((p.x, p.y) for p in polygon.points))


# --- IoU -------------------------------------------------------------------------------------


def _iou(overlap: FloatArray, size_a: FloatArray, size_b: FloatArray) -> FloatArray:
    """IoU from the overlap and the sizes (areas or lengths) of two shapes, elementwise; 0 where
    the union is empty."""
    union = size_a + size_b - overlap
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, overlap / union, 0.0)


def _overlap(
    low_a: FloatArray, high_a: FloatArray, low_b: FloatArray, high_b: FloatArray
) -> FloatArray:
    """Size of the intersection of axis-aligned boxes given by their corners (last axis: the
    dimensions)."""
    sides = np.clip(np.minimum(high_a, high_b) - np.maximum(low_a, low_b), 0, None)
    overlap: FloatArray = sides.prod(axis=-1)
    return overlap


def box_iou_matrix(boxes_a: npt.ArrayLike, boxes_b: npt.ArrayLike) -> FloatArray:
    """IoU of every box of `boxes_a` (n x 4: x, y, width, height) with every one of `boxes_b`.

    IoU = area(A and B) / area(A or B), and 0 where the union has no area. Returns n x m.
    """
    a = np.asarray(boxes_a, dtype=float).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=float).reshape(-1, 4)
    if (a[:, 2:] < 0).any() or (b[:, 2:] < 0).any():
        raise ValueError("box width and height must be non-negative")
    a_low, a_size = a[:, None, :2], a[:, None, 2:]
    b_low, b_size = b[None, :, :2], b[None, :, 2:]
    overlap = _overlap(a_low, a_low + a_size, b_low, b_low + b_size)
    return _iou(overlap, a_size.prod(axis=-1), b_size.prod(axis=-1))


def box_iou(a: Box, b: Box) -> float:
    """IoU of two boxes, whatever their labels."""
    return float(box_iou_matrix(_box_rows([a]), _box_rows([b]))[0, 0])


def _box_rows(boxes: Sequence[Box]) -> FloatArray:
    return np.array([[b.x, b.y, b.width, b.height] for b in boxes], dtype=float).reshape(-1, 4)


def interval_iou_matrix(intervals_a: npt.ArrayLike, intervals_b: npt.ArrayLike) -> FloatArray:
    """IoU of every interval of `intervals_a` (n x 2: start, end), such as a time segment, with
    every one of `intervals_b`. 0 where the union has no length. Returns n x m."""
    a = np.asarray(intervals_a, dtype=float).reshape(-1, 2)
    b = np.asarray(intervals_b, dtype=float).reshape(-1, 2)
    if (a[:, 1] < a[:, 0]).any() or (b[:, 1] < b[:, 0]).any():
        raise ValueError("an interval must not end before it starts")
    a_low, a_high = a[:, None, :1], a[:, None, 1:]
    b_low, b_high = b[None, :, :1], b[None, :, 1:]
    overlap = _overlap(a_low, a_high, b_low, b_high)
    return _iou(overlap, (a_high - a_low).prod(axis=-1), (b_high - b_low).prod(axis=-1))


def interval_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """IoU of two (start, end) intervals."""
    return float(interval_iou_matrix([a], [b])[0, 0])


def _geometries(polygons: Sequence[npt.ArrayLike]) -> npt.NDArray[np.object_]:
    rings = [np.asarray(points, dtype=float) for points in polygons]
    for i, ring in enumerate(rings):
        if ring.ndim != 2 or ring.shape[1] != 2 or len(ring) < 3:
            raise ValueError(f"polygon {i} needs at least three (x, y) vertices, got {ring.shape}")
    geometries = np.empty(len(rings), dtype=object)
    geometries[:] = [shapely.Polygon(ring) for ring in rings]
    # A self-intersecting outline has no well-defined area until repaired.
    invalid = ~shapely.is_valid(geometries)
    if invalid.any():
        geometries[invalid] = shapely.make_valid(geometries[invalid])
    return geometries


def _iou_of_geometries(a: npt.NDArray[np.object_], b: npt.NDArray[np.object_]) -> FloatArray:
    """Elementwise IoU of two broadcastable arrays of geometries; 0 where the union is empty."""
    overlap = shapely.area(shapely.intersection(a, b))
    return _iou(overlap, shapely.area(a), shapely.area(b))


def polygon_iou_matrix(
    polygons_a: Sequence[npt.ArrayLike], polygons_b: Sequence[npt.ArrayLike]
) -> FloatArray:
    """IoU of every polygon of `polygons_a` with every one of `polygons_b` (vertex lists).

    Self-intersecting polygons are repaired with shapely.make_valid first. 0 where the union
    has no area.
    """
    a, b = _geometries(polygons_a), _geometries(polygons_b)
    if not a.size or not b.size:
        return np.zeros((a.size, b.size))
    return _iou_of_geometries(a[:, None], b[None, :])


def polygon_iou(a: PolygonShape, b: PolygonShape) -> float:
    """IoU of two polygons, whatever their labels."""
    return float(polygon_iou_matrix([a.points], [b.points])[0, 0])


# --- matching --------------------------------------------------------------------------------


def match_by_score(scores: npt.ArrayLike) -> list[tuple[int, int]]:
    """One-to-one matching of rows to columns maximising the total score of the matched pairs.

    Pairs scoring 0 or less (or NaN) never match. Solved exactly with the Hungarian algorithm,
    so a row is not taken greedily by its best partner when that would leave others unmatched
    for a lower total.
    """
    matrix = np.asarray(scores, dtype=float)
    if matrix.ndim != 2:
        raise ValueError(f"scores must be a matrix, got shape {matrix.shape}")
    # Clipped to 0, the best full assignment has the total of the best partial matching.
    eligible = np.where(matrix > 0, matrix, 0.0)
    rows, columns = linear_sum_assignment(eligible, maximize=True)
    matched = eligible[rows, columns] > 0
    return list(zip(rows[matched].tolist(), columns[matched].tolist(), strict=True))


def match_by_iou(iou: npt.ArrayLike, *, threshold: float = 0.5) -> list[tuple[int, int]]:
    """`match_by_score` of the pairs whose IoU reaches `threshold`."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    scores = np.asarray(iou, dtype=float)
    if scores.ndim != 2:
        raise ValueError(f"iou must be a matrix, got shape {scores.shape}")
    return match_by_score(np.where(scores >= threshold, scores, 0.0))


# --- consensus of shapes ---------------------------------------------------------------------

ShapeT = TypeVar("ShapeT", Box, PolygonShape, Keypoints)


@dataclass(frozen=True)
class ShapeCluster(Generic[ShapeT]):
    """Shapes that annotators drew of one object, and their consensus `shape`.

    `members` are (annotator, index in that annotator's list); `support` the share of
    annotators who drew the object; `mean_iou` the mean IoU of its members' pairs (NaN for one).
    """

    shape: ShapeT
    members: tuple[tuple[int, int], ...]
    support: float
    mean_iou: float


@dataclass(frozen=True)
class ShapeConsensus(Generic[ShapeT]):
    """The objects found across annotators, and their agreement.

    `agreement` in [0, 1] is the mean over annotator pairs of Σ IoU of the pair's shapes in the
    same cluster / ((n_a + n_b) / 2), with n_a and n_b the numbers of shapes each drew: the
    panoptic quality of one annotator against the other (Kirillov et al., 2019), so a shape
    nobody else drew lowers it. A pair that both drew nothing agrees fully. NaN for one
    annotator. `unmatched` counts the shapes in no cluster with another annotator's.
    """

    clusters: tuple[ShapeCluster[ShapeT], ...]
    agreement: float
    unmatched: int


def _cluster(
    iou: FloatArray, owners: IntArray, n_annotators: int, threshold: float
) -> list[list[int]]:
    """Groups shapes (indices into `iou`) so that each group has one shape per annotator at most.

    Matching many annotators jointly is a multi-dimensional assignment, NP-hard; annotators are
    added one at a time instead, each matched optimally against the groups so far by the mean
    IoU of a shape with a group's members. Shapes left unmatched start groups of their own.
    """
    clusters: list[list[int]] = []
    for annotator in range(n_annotators):
        shapes = np.flatnonzero(owners == annotator)
        pairs = []
        if clusters and shapes.size:
            affinity = np.array([iou[members][:, shapes].mean(axis=0) for members in clusters])
            pairs = match_by_iou(affinity, threshold=threshold)
        for cluster, shape in pairs:
            clusters[cluster].append(int(shapes[shape]))
        matched = {shape for _, shape in pairs}
        clusters.extend([int(shape)] for i, shape in enumerate(shapes) if i not in matched)
    return clusters


def _pair_agreement(
    clusters: list[list[int]], iou: FloatArray, owners: IntArray, n_annotators: int
) -> float:
    if n_annotators < 2:
        return math.nan
    matched_iou = np.zeros((n_annotators, n_annotators))
    for members in clusters:
        for i, first in enumerate(members):
            for second in members[i + 1 :]:
                matched_iou[owners[first], owners[second]] += iou[first, second]
    drawn = np.bincount(owners, minlength=n_annotators).astype(float)
    a, b = np.triu_indices(n_annotators, k=1)
    half_total = (drawn[a] + drawn[b]) / 2
    matched = matched_iou[a, b] + matched_iou[b, a]
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(half_total > 0, matched / half_total, 1.0)
    return float(scores.mean())


def _mean_pair_iou(iou: FloatArray, members: list[int]) -> float:
    if len(members) < 2:
        return math.nan
    block = iou[members][:, members]
    return float(block[np.triu_indices(len(members), k=1)].mean())


def shape_consensus(
    annotations: Sequence[Sequence[ShapeT]],
    iou_of: Callable[[list[ShapeT], BoolArray], FloatArray],
    merge: Callable[[list[ShapeT], FloatArray], ShapeT],
    threshold: float,
) -> ShapeConsensus[ShapeT]:
    """Clusters of the shapes annotators drew (annotations[a]: annotator a's), one-to-one across
    annotators and of one label, and their consensus shapes.

    `iou_of(shapes, wanted)` is the symmetric similarity matrix of all shapes, needed only
    where `wanted`; `merge(members, their similarities)` makes a cluster's consensus shape.
    """
    if not annotations:
        raise ValueError("consensus needs at least one annotator")
    if not 0 < threshold <= 1:
        raise ValueError(f"iou_threshold must be in (0, 1], got {threshold}")
    shapes = [shape for drawn in annotations for shape in drawn]
    owners = np.repeat(np.arange(len(annotations)), [len(drawn) for drawn in annotations])
    positions = [(a, i) for a, drawn in enumerate(annotations) for i in range(len(drawn))]
    labels = np.array([shape.label for shape in shapes], dtype=object)
    comparable = (labels[:, None] == labels[None, :]) & (owners[:, None] != owners[None, :])
    iou = np.where(comparable, iou_of(shapes, comparable), 0.0)
    clusters = _cluster(iou, owners, len(annotations), threshold)
    return ShapeConsensus(
        tuple(
            ShapeCluster(
                merge([shapes[i] for i in members], iou[members][:, members]),
                tuple(positions[i] for i in members),
                len(members) / len(annotations),
                _mean_pair_iou(iou, members),
            )
            for members in clusters
        ),
        _pair_agreement(clusters, iou, owners, len(annotations)),
        sum(len(members) == 1 for members in clusters),
    )


def medoid(shapes: list[ShapeT], iou: FloatArray) -> ShapeT:
    """The shape with the highest total similarity to the others (the first on a tie)."""
    return shapes[int(np.argmax(iou.sum(axis=1)))]


def _median_box(boxes: list[Box], _: FloatArray) -> Box:
    corners = np.array([[b.x, b.y, b.x + b.width, b.y + b.height] for b in boxes])
    left, top, right, bottom = np.median(corners, axis=0).tolist()
    return Box(boxes[0].label, left, top, right - left, bottom - top)


def _polygon_iou_where(polygons: list[PolygonShape], wanted: BoolArray) -> FloatArray:
    """The symmetric IoU matrix of `polygons`, computed only where `wanted` (0 elsewhere)."""
    geometries = _geometries([polygon.points for polygon in polygons])
    low, high = np.hsplit(shapely.bounds(geometries).reshape(-1, 4), 2)
    # Polygons whose bounding boxes do not overlap cannot intersect: skip them.
    overlapping = ((low[:, None] < high[None, :]) & (low[None, :] < high[:, None])).all(axis=2)
    rows, columns = np.nonzero(np.triu(wanted & overlapping, k=1))
    iou = np.zeros(wanted.shape)
    iou[rows, columns] = _iou_of_geometries(geometries[rows], geometries[columns])
    iou[columns, rows] = iou[rows, columns]
    return iou


def box_consensus(
    annotations: Sequence[Sequence[Box]], *, iou_threshold: float = 0.5
) -> ShapeConsensus[Box]:
    """Objects boxed by several annotators (annotations[a]: annotator a's boxes of one item).

    Boxes match one-to-one across annotators when they share a label and their IoU reaches
    `iou_threshold`; the consensus box of a cluster takes the median of each edge.
    """
    return shape_consensus(
        annotations,
        lambda boxes, _: box_iou_matrix(_box_rows(boxes), _box_rows(boxes)),
        _median_box,
        iou_threshold,
    )


def polygon_consensus(
    annotations: Sequence[Sequence[PolygonShape]], *, iou_threshold: float = 0.5
) -> ShapeConsensus[PolygonShape]:
    """Objects outlined by several annotators, as `box_consensus` does for boxes.

    The consensus polygon of a cluster is its medoid, the member with the highest total IoU
    with the others (the earliest annotator's on a tie): averaging vertices is meaningless when
    annotators place different numbers of them.
    """
    return shape_consensus(annotations, _polygon_iou_where, medoid, iou_threshold)
