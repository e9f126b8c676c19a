"""Consensus across annotators, and how closely their annotations agree. Pure: no I/O.

Functions take plain Python or numpy data; thin adapters read labelmesh.v1 Labels. As in
labelmesh.review.agreement, a score that is undefined for its input is NaN.
"""

from __future__ import annotations

import math
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import numpy as np
import numpy.typing as npt
import shapely
from scipy.optimize import linear_sum_assignment

from labelmesh.v1.geometry_pb2 import Keypoints, Label

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

# --- votes -----------------------------------------------------------------------------------


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


# --- boxes and polygons ----------------------------------------------------------------------


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


def _kind(label: Label, kind: str) -> Any:
    found = label.WhichOneof("kind")
    if found != kind:
        raise ValueError(f"label kind {found!r} is not {kind!r}")
    return getattr(label, kind)


def box_from_label(label: Label) -> Box:
    box = _kind(label, "bounding_box")
    return Box(box.label, box.x, box.y, box.width, box.height)


def polygon_from_label(label: Label) -> PolygonShape:
    polygon = _kind(label, "polygon")
    return PolygonShape(polygon.label, tuple((p.x, p.y) for p in polygon.points))


def box_iou_matrix(boxes_a: npt.ArrayLike, boxes_b: npt.ArrayLike) -> FloatArray:
    """IoU of every box of `boxes_a` (n x 4: x, y, width, height) with every one of `boxes_b`.

    IoU = area(A and B) / area(A or B), and 0 where the union has no area. Returns n x m.
    """
    a = np.asarray(boxes_a, dtype=float).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=float).reshape(-1, 4)
    if (a[:, 2:] < 0).any() or (b[:, 2:] < 0).any():
        raise ValueError("box width and height must be non-negative")
    a_low, a_high = a[:, None, :2], a[:, None, :2] + a[:, None, 2:]
    b_low, b_high = b[None, :, :2], b[None, :, :2] + b[None, :, 2:]
    overlap = np.clip(np.minimum(a_high, b_high) - np.maximum(a_low, b_low), 0, None).prod(axis=2)
    union = a[:, None, 2:].prod(axis=2) + b[None, :, 2:].prod(axis=2) - overlap
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, overlap / union, 0.0)


def box_iou(a: Box, b: Box) -> float:
    """IoU of two boxes, whatever their labels."""
    return float(box_iou_matrix(_box_rows([a]), _box_rows([b]))[0, 0])


def _box_rows(boxes: Sequence[Box]) -> FloatArray:
    return np.array([[b.x, b.y, b.width, b.height] for b in boxes], dtype=float).reshape(-1, 4)


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
    union = shapely.area(a) + shapely.area(b) - overlap
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, overlap / union, 0.0)


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


def match_by_iou(iou: npt.ArrayLike, *, threshold: float = 0.5) -> list[tuple[int, int]]:
    """One-to-one matching of rows to columns maximising the total IoU of the matched pairs.

    Only pairs with IoU ≥ `threshold` may match. Solved exactly with the Hungarian algorithm,
    so a shape is not taken greedily by its best partner when that would leave others unmatched
    for a lower total.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    scores = np.asarray(iou, dtype=float)
    if scores.ndim != 2:
        raise ValueError(f"iou must be a matrix, got shape {scores.shape}")
    eligible = np.where(scores >= threshold, scores, 0.0)
    rows, columns = linear_sum_assignment(eligible, maximize=True)
    matched = eligible[rows, columns] > 0
    return list(zip(rows[matched].tolist(), columns[matched].tolist(), strict=True))


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


def _consensus(
    annotations: Sequence[Sequence[ShapeT]],
    iou_of: Callable[[list[ShapeT], BoolArray], FloatArray],
    merge: Callable[[list[ShapeT], FloatArray], ShapeT],
    threshold: float,
) -> ShapeConsensus[ShapeT]:
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


def _medoid(shapes: list[ShapeT], iou: FloatArray) -> ShapeT:
    return shapes[int(np.argmax(iou.sum(axis=1)))]


def box_consensus(
    annotations: Sequence[Sequence[Box]], *, iou_threshold: float = 0.5
) -> ShapeConsensus[Box]:
    """Objects boxed by several annotators (annotations[a]: annotator a's boxes of one item).

    Boxes match one-to-one across annotators when they share a label and their IoU reaches
    `iou_threshold`; the consensus box of a cluster takes the median of each edge.
    """
    return _consensus(
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
    return _consensus(annotations, _polygon_iou_where, _medoid, iou_threshold)


# --- keypoints -------------------------------------------------------------------------------

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


def _oks_matrix(sets: list[Keypoints], wanted: BoolArray) -> FloatArray:
    """Symmetric OKS of keypoint sets (the mean of both directions), where `wanted`; 0 where
    undefined, e.g. a set that placed no keypoint."""
    similarity = np.zeros(wanted.shape)
    for i, j in zip(*np.nonzero(np.triu(wanted, k=1)), strict=True):
        try:
            both = (keypoints_oks(sets[i], sets[j]) + keypoints_oks(sets[j], sets[i])) / 2
        except ValueError:  # a set spanning no area has no scale to compare at
            both = math.nan
        similarity[i, j] = similarity[j, i] = 0.0 if math.isnan(both) else both
    return similarity


def keypoints_consensus(
    annotations: Sequence[Sequence[Keypoints]], *, oks_threshold: float = 0.5
) -> ShapeConsensus[Keypoints]:
    """Skeletons placed by several annotators, matched one-to-one by OKS as boxes are by IoU.

    The consensus skeleton of a cluster is its medoid; `agreement` is the mean pairwise OKS
    credit, as for boxes.
    """
    return _consensus(annotations, _oks_matrix, _medoid, oks_threshold)


def _placed_points(keypoints: Keypoints) -> dict[str, tuple[float, float]]:
    names = [point.name for point in keypoints.points]
    if len(set(names)) != len(names):
        raise ValueError(f"keypoint names repeat: {names}")
    return {
        point.name: (point.position.x, point.position.y)
        for point in keypoints.points
        if point.visibility > 0
    }


# --- text spans ------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Span:
    """A labelled span of text: class name and character offsets [start, end)."""

    label: str
    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"span offsets need 0 <= start <= end, got {self.start}, {self.end}")


def span_from_label(label: Label) -> Span:
    span = _kind(label, "text_span")
    return Span(span.label, span.start, span.end)


def span_exact_f1(spans_a: Collection[Span], spans_b: Collection[Span]) -> float:
    """F1 of exact matches (same label, start and end): 2 |A & B| / (|A| + |B|).

    Repeated spans count once. 1 when neither side has a span.
    """
    a, b = set(spans_a), set(spans_b)
    if not a and not b:
        return 1.0
    return 2 * len(a & b) / (len(a) + len(b))


def span_overlap_f1(spans_a: Collection[Span], spans_b: Collection[Span]) -> float:
    """Character-level F1 with labels: 2 |C_A & C_B| / (|C_A| + |C_B|).

    C_X is the set of (label, character offset) pairs that X's spans cover, so partial overlaps
    earn partial credit and characters covered twice by one side count once. Characters rather
    than tokens keep it independent of a tokenizer. 1 when neither side covers a character.
    """
    covered_a, covered_b = _covered_by_label(spans_a), _covered_by_label(spans_b)
    total = sum(_length(runs) for runs in covered_a.values()) + sum(
        _length(runs) for runs in covered_b.values()
    )
    if total == 0:
        return 1.0
    shared = sum(
        _shared_length(runs, covered_b[label])
        for label, runs in covered_a.items()
        if label in covered_b
    )
    return 2 * shared / total


def _covered_by_label(spans: Collection[Span]) -> dict[str, list[tuple[int, int]]]:
    """Each label's covered characters as sorted, disjoint [start, end) runs."""
    by_label: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for span in sorted(spans):
        if span.start == span.end:
            continue
        runs = by_label[span.label]
        if runs and span.start <= runs[-1][1]:
            runs[-1] = (runs[-1][0], max(runs[-1][1], span.end))
        else:
            runs.append((span.start, span.end))
    return by_label


def _length(runs: list[tuple[int, int]]) -> int:
    return sum(end - start for start, end in runs)


def _shared_length(runs_a: list[tuple[int, int]], runs_b: list[tuple[int, int]]) -> int:
    shared, i, j = 0, 0, 0
    while i < len(runs_a) and j < len(runs_b):
        (start_a, end_a), (start_b, end_b) = runs_a[i], runs_b[j]
        shared += max(0, min(end_a, end_b) - max(start_a, start_b))
        if end_a < end_b:
            i += 1
        else:
            j += 1
    return shared


# --- transcriptions --------------------------------------------------------------------------


def normalize_transcript(text: str) -> str:
    """Text as the error rates compare it.

    NFKC-normalised, case-folded, every Unicode punctuation character (category P*) deleted, so
    "Don't!" reads "dont" and "e-mail" reads "email", and whitespace runs collapsed to one
    space. Symbols (category S*) such as "$" or "+" are kept; "%" is punctuation (Po).
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(ch for ch in folded if not unicodedata.category(ch).startswith("P"))
    return " ".join(kept.split())


def edit_distance(reference: Sequence[Hashable], hypothesis: Sequence[Hashable]) -> int:
    """Levenshtein distance: the fewest substitutions, deletions and insertions between two
    sequences.

    Computed with Myers' bit-parallel algorithm in Hyyrö's form for edit distance (Hyyrö 2001):
    a column of the dynamic-programming table is kept as two bit vectors of +1 and -1 vertical
    steps, and a step along the other sequence costs a few integer operations, whatever the
    length of the first.
    """
    # The longer sequence goes into the bit vectors; Python ints have no width limit.
    pattern, text = (
        (reference, hypothesis) if len(reference) >= len(hypothesis) else (hypothesis, reference)
    )
    if not text:
        return len(pattern)
    full = (1 << len(pattern)) - 1
    last = 1 << (len(pattern) - 1)
    positions: dict[Hashable, int] = defaultdict(int)
    for i, token in enumerate(pattern):
        positions[token] |= 1 << i
    plus, minus, distance = full, 0, len(pattern)
    for token in text:
        equal = positions.get(token, 0)
        vertical = equal | minus
        horizontal = (((equal & plus) + plus) ^ plus) | equal
        horizontal_plus = minus | (~(horizontal | plus) & full)
        horizontal_minus = plus & horizontal
        if horizontal_plus & last:
            distance += 1
        elif horizontal_minus & last:
            distance -= 1
        # Row 0 of the table counts up by one per step (D[0][j] = j): shift in a +1.
        horizontal_plus = ((horizontal_plus << 1) | 1) & full
        horizontal_minus = (horizontal_minus << 1) & full
        plus = horizontal_minus | (~(vertical | horizontal_plus) & full)
        minus = horizontal_plus & vertical
    return distance


def _error_rate(reference: Sequence[Hashable], hypothesis: Sequence[Hashable]) -> float:
    if not reference:
        return 0.0 if not hypothesis else math.nan
    return edit_distance(reference, hypothesis) / len(reference)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER = (substitutions + deletions + insertions) / words in the reference.

    Both texts pass through `normalize_transcript` first. 0 when both are empty, NaN when only
    the reference is.
    """
    return _error_rate(
        normalize_transcript(reference).split(), normalize_transcript(hypothesis).split()
    )


def character_error_rate(reference: str, hypothesis: str) -> float:
    """CER: as `word_error_rate` over the characters of the normalised texts, spaces included."""
    return _error_rate(normalize_transcript(reference), normalize_transcript(hypothesis))


def transcript_of(label: Label) -> str:
    return str(_kind(label, "transcription").text)
