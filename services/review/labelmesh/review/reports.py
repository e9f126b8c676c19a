"""Quality reports built from the review service's stored records. Pure: no I/O.

The functions take the records the repositories return: scores (one per scored
annotation), reviewers' decisions and the review's copy of each annotation. A figure
with nothing to compute it from is NaN, never an exception.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import TypeVar

import numpy as np

from labelmesh.review.agreement import (
    Level,
    category_of,
    fleiss_kappa,
    fleiss_table,
    krippendorff_alpha,
    pairwise_cohen_kappa,
    reliability_matrix,
    specific_agreement,
)
from labelmesh.review.enums import SCORE_REFERENCES
from labelmesh.review.records import (
    AnnotationCopy,
    ReviewerDecision,
    ScoreReference,
    StoredScore,
)
from labelmesh.v1.geometry_pb2 import Label
from labelmesh.v1.review_service_pb2 import (
    AnnotationScore,
    AnnotatorStats,
    ClassAgreement,
    GetAgreementReportResponse,
    PairAgreement,
    ReviewerStats,
)

# Two-sided 95%: the standard normal's 0.975 quantile, 1.959964.
Z_95 = statistics.NormalDist().inv_cdf(0.975)
SECONDS_PER_HOUR = 3600.0
RatingT = TypeVar("RatingT", bound=Hashable)
RecordT = TypeVar("RecordT")


def _share(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


def _group(records: Iterable[RecordT], key: Callable[[RecordT], str]) -> dict[str, list[RecordT]]:
    groups: dict[str, list[RecordT]] = defaultdict(list)
    for record in records:
        groups[key(record)].append(record)
    return groups


# --- per annotation and per annotator --------------------------------------------------------


def annotation_scores(scores: Iterable[StoredScore]) -> list[AnnotationScore]:
    """Scores as AnnotationScore messages, oldest first (ties keep their order)."""
    return [
        AnnotationScore(
            annotation_id=s.annotation_id,
            item_id=s.item_id,
            annotator=s.annotator,
            agreement=s.agreement,
            reference=s.reference.value,
            score_reference=SCORE_REFERENCES[s.reference],
            gold=s.gold,
            gold_correct=s.gold_correct,
            score=s.score,
            scored_at=s.scored_at,
        )
        for s in sorted(scores, key=lambda s: s.scored_at)
    ]


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion (95% by default); NaN, NaN without trials."""
    if trials == 0:
        return math.nan, math.nan
    p = successes / trials
    spread = z * z / trials
    centre = (p + spread / 2) / (1 + spread)
    half = z / (1 + spread) * math.sqrt(p * (1 - p) / trials + spread / (4 * trials))
    # At p = 0 or 1 one bound is exactly 0 or 1; rounding must not move it inside.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def annotations_per_hour(moments: Sequence[datetime]) -> float:
    """Annotations per hour between the first and the last submission (the scoring time
    stands in where the submission time is unknown).

    With fewer than two annotations, or all at one instant, there is no span to measure a rate
    over, and the rate is 0 rather than NaN or infinite: read 0 as "not measurable". The span
    starts at the first submission, so the first annotation's own work time is not in it.
    """
    if len(moments) < 2:
        return 0.0
    hours = (max(moments) - min(moments)).total_seconds() / SECONDS_PER_HOUR
    return len(moments) / hours if hours > 0 else 0.0


def _annotator_stats(
    annotator: str, scores: Sequence[StoredScore], flagged: bool
) -> AnnotatorStats:
    judged = [s.correct for s in scores if s.correct is not None]
    gold = [s.gold_correct for s in scores if s.gold]
    low, high = wilson_interval(sum(gold), len(gold))
    agreements = [
        s.agreement
        for s in scores
        if not s.gold and s.reference in (ScoreReference.FINAL, ScoreReference.SUGGESTION)
    ]
    seconds = [s.seconds_spent for s in scores if s.seconds_spent > 0]
    return AnnotatorStats(
        annotator=annotator,
        annotations=len(scores),
        accuracy=_share(sum(judged), len(judged)),
        gold_accuracy=_share(sum(gold), len(gold)),
        gold_answers=len(gold),
        gold_accuracy_low=low,
        gold_accuracy_high=high,
        agreement=statistics.fmean(agreements) if agreements else math.nan,
        per_hour=annotations_per_hour([s.submitted_at or s.scored_at for s in scores]),
        median_seconds_per_item=statistics.median(seconds) if seconds else math.nan,
        flagged=flagged,
    )


def annotator_report(
    scores: Iterable[StoredScore], flagged: AbstractSet[str]
) -> list[AnnotatorStats]:
    """Each annotator's figures from their scores, sorted by annotator.

    accuracy is over the annotations with a verdict (`correct` not None); gold_accuracy and its
    Wilson interval over gold answers; agreement is the mean over non-gold annotations compared
    with a final label or a suggestion; median_seconds_per_item over known times (> 0).
    """
    by_annotator = _group(scores, lambda s: s.annotator)
    return [
        _annotator_stats(annotator, by_annotator[annotator], annotator in flagged)
        for annotator in sorted(by_annotator)
    ]


def reviewer_report(decisions: Iterable[ReviewerDecision]) -> list[ReviewerStats]:
    """Each reviewer's figures, sorted by reviewer; rates are over settled decisions."""
    reports = []
    for reviewer, mine in sorted(_group(decisions, lambda d: d.reviewer).items()):
        settled = [d for d in mine if d.settled]
        reports.append(
            ReviewerStats(
                reviewer=reviewer,
                decisions=len(mine),
                settled=len(settled),
                match_rate=_share(sum(d.matches_final is True for d in settled), len(settled)),
                overturn_rate=_share(sum(d.overturned is True for d in settled), len(settled)),
                approved=sum(d.approved for d in mine),
            )
        )
    return reports


# --- inter-annotator agreement ---------------------------------------------------------------


def _latest_annotations(annotations: Iterable[AnnotationCopy]) -> list[AnnotationCopy]:
    """Non-gold annotations, each annotator's latest round per item (then latest submitted)."""
    latest: dict[tuple[str, str], AnnotationCopy] = {}
    for annotation in annotations:
        if annotation.gold:
            continue
        key = (annotation.item_id, annotation.annotator)
        held = latest.get(key)
        order = (annotation.round, annotation.submitted_at)
        if held is None or order > (held.round, held.submitted_at):
            latest[key] = annotation
    return list(latest.values())


def _classification(labels: Sequence[Label]) -> str | None:
    """The class of the first classification label, if any."""
    for label in labels:
        if label.WhichOneof("kind") == "classification":
            return category_of(label)
    return None


def _by_annotator(
    ratings: Iterable[tuple[str, str, RatingT | None]],
) -> dict[str, dict[str, RatingT]]:
    """{annotator: {item: rating}} from (annotator, item, rating), annotators sorted, None out."""
    by_annotator: dict[str, dict[str, RatingT]] = defaultdict(dict)
    for annotator, item, rating in ratings:
        if rating is not None:
            by_annotator[annotator][item] = rating
    return {annotator: by_annotator[annotator] for annotator in sorted(by_annotator)}


def _per_item(ratings: Mapping[str, Mapping[str, RatingT]]) -> dict[str, list[RatingT]]:
    items: dict[str, list[RatingT]] = defaultdict(list)
    for by_item in ratings.values():
        for item, value in by_item.items():
            items[item].append(value)
    return items


def _alpha(ratings: Mapping[str, Mapping[str, Hashable]], level: Level) -> float:
    """Krippendorff's alpha, NaN when no item was rated twice."""
    if not any(len(values) >= 2 for values in _per_item(ratings).values()):
        return math.nan
    return krippendorff_alpha(reliability_matrix(ratings).values, level=level)


def _class_agreement(
    classes: Mapping[str, Mapping[str, str]], rated_twice: Sequence[list[str]]
) -> tuple[float, list[ClassAgreement]]:
    """Overall Fleiss' kappa and each class's figures (NaN without an item rated twice)."""
    names = sorted({name for by_item in classes.values() for name in by_item.values()})
    if not rated_twice:
        return math.nan, [
            ClassAgreement(label=n, specific_agreement=math.nan, fleiss_kappa=math.nan)
            for n in names
        ]
    table = fleiss_table(rated_twice, categories=names)
    raters = table.counts.sum(axis=1)
    specific = specific_agreement(reliability_matrix(classes).values)
    per_class = [
        ClassAgreement(
            label=name,
            specific_agreement=specific[name],
            # The class against the rest: a two-column table of the same items.
            fleiss_kappa=fleiss_kappa(np.column_stack([column, raters - column])),
        )
        for name, column in zip(names, table.counts.T, strict=True)
    ]
    return fleiss_kappa(table.counts), per_class


def _pairs(classes: Mapping[str, Mapping[str, str]]) -> list[PairAgreement]:
    """Cohen's kappa of every annotator pair with an item in common."""
    if not classes:
        return []
    return [
        PairAgreement(
            annotator_a=pair.rater_a,
            annotator_b=pair.rater_b,
            shared_items=pair.shared_items,
            cohen_kappa=pair.kappa,
        )
        for pair in pairwise_cohen_kappa(classes, min_shared_items=1)
    ]


def agreement_report(annotations: Iterable[AnnotationCopy]) -> GetAgreementReportResponse:
    """Inter-annotator agreement over non-gold annotations, one per annotator and item.

    An annotator who labelled an item in several rounds counts with their latest round only.
    The class statistics use each annotation's first classification label and skip annotations
    without one; `items` counts the items with two classifications or more. Fleiss' kappa,
    overall and per class against the rest, takes only the items with the most common number of
    classifications (the larger number on a tie), since it assumes equal raters per item;
    Krippendorff's alpha and specific agreement take every item, with missing ratings allowed.
    The interval alpha is over the number of labels of each annotation, whatever their kind.
    """
    latest = _latest_annotations(annotations)
    parsed = [(a.annotator, a.item_id, a.labels) for a in latest]
    classes = _by_annotator((who, item, _classification(labels)) for who, item, labels in parsed)
    counts = _by_annotator((who, item, float(len(labels))) for who, item, labels in parsed)
    rated_twice = [values for values in _per_item(classes).values() if len(values) >= 2]
    fleiss, per_class = _class_agreement(classes, rated_twice)
    return GetAgreementReportResponse(
        items=len(rated_twice),
        fleiss_kappa=fleiss,
        krippendorff_alpha_nominal=_alpha(classes, "nominal"),
        krippendorff_alpha_interval=_alpha(counts, "interval"),
        classes=per_class,
        pairs=_pairs(classes),
    )
