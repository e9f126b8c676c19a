"""An item's way through its project's review policy. Pure: no I/O.

An item collects one annotation from each of `overlap` annotators per round.
A complete round gets a consensus; low consensus goes to adjudication.
Otherwise auto-approve rules may finish the item at once, or it walks the
policy's review stages in order, each of which covers every item, a fixed
random fraction, or only flagged items. A rejection sends the item back for a
new round, until the loop limit sends it to adjudication instead. An
adjudicator's decision is final. Each step records the events it causes in
`Effects`; the caller stores the state and emits them in one transaction.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from google.protobuf.message import Message

from labelmesh.core import review_policy
from labelmesh.core.errors import Conflict
from labelmesh.review.consensus.items import item_consensus
from labelmesh.review.domain import agreement
from labelmesh.review.enums import COMPLETION_SOURCES, SCORE_REFERENCES
from labelmesh.review.records import (
    CompletionSource,
    Outcome,
    ReviewState,
    ReviewTaskSpec,
    ScoreReference,
    TaskKind,
)
from labelmesh.v1.events_pb2 import (
    AdjudicationDecided,
    AdjudicationRequested,
    AnnotationCandidate,
    ItemCompleted,
    ItemFlagged,
    QualityScored,
    ReviewCoverage,
    ReviewDecided,
    ReviewDecision,
    ReviewPolicy,
    ReviewRequested,
    ReviewStage,
)
from labelmesh.v1.geometry_pb2 import Label

APPROVED = ReviewDecision.REVIEW_DECISION_APPROVED
REJECTED = ReviewDecision.REVIEW_DECISION_REJECTED

# An annotation counts as correct when its agreement with the reference reaches
# this: the same class, or shapes overlapping by the usual IoU of 0.5.
CORRECT_AT = 0.5


@dataclass
class Submission:
    annotation_id: str
    annotator: str
    task_id: str
    labels: list[Label]
    suggestion: list[Label] = field(default_factory=list)
    seconds_spent: float = 0.0
    round: int = 0
    submitted_at: datetime | None = None


@dataclass
class ItemState:
    item_id: str
    project_id: str
    state: ReviewState = ReviewState.ANNOTATING
    round: int = 0
    expected: int = 1
    submissions: list[Submission] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)  # the candidate: consensus or final
    agreement: float | None = None  # among annotators; None for a single annotator
    stage_index: int = -1
    review_task_id: str = ""
    loops: int = 0
    flags: list[str] = field(default_factory=list)
    source: CompletionSource | None = None  # where the final labels came from, once completed
    reviewed_by_person: bool = False
    policy_version: int = 0


@dataclass(frozen=True)
class Context:
    policy: ReviewPolicy
    min_agreement_with_model: float  # the project's legacy check of a lone annotation
    weights: Mapping[str, float]  # vote weight per annotator, from measured quality
    flagged_annotators: frozenset[str] = frozenset()
    default_weight: float = 1.0  # of an annotator with no measured quality yet


@dataclass(frozen=True)
class Score:
    annotation_id: str
    annotator: str
    agreement: float
    reference: ScoreReference
    correct: bool | None  # None when nothing independent was compared
    gold: bool
    seconds_spent: float
    round: int
    submitted_at: datetime | None = None


@dataclass
class Effects:
    events: list[Message] = field(default_factory=list)
    tasks: list[ReviewTaskSpec] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)
    final_labels: list[Label] | None = None  # set when the item completed: settles reviews

    def emit(self, event: Message) -> None:
        self.events.append(event)


# --- annotations arriving ------------------------------------------------------------------


def add_submission(item: ItemState, submission: Submission, expected: int, ctx: Context) -> Effects:
    """Record one annotation of the item's current round; decide once the round is full."""
    fx = Effects()
    if item.state != ReviewState.ANNOTATING or submission.round != item.round:
        # A late annotation of a round already decided does not reopen the item.
        return fx
    if any(s.annotation_id == submission.annotation_id for s in item.submissions):
        return fx
    item.expected = max(1, expected)
    item.policy_version = ctx.policy.version
    item.submissions.append(submission)
    if submission.annotator in ctx.flagged_annotators:
        _flag(item, f"annotator {submission.annotator!r} is flagged")
    if len(item.submissions) >= item.expected:
        _conclude_round(item, ctx, fx)
    return fx


def score_gold(item: ItemState, submission: Submission, answer: Sequence[Label]) -> Effects:
    """A gold item's answer is only scored; the item itself stays as it is."""
    fx = Effects()
    score = agreement(submission.labels, answer) or 0.0
    correct = score >= CORRECT_AT
    fx.scores.append(
        Score(
            submission.annotation_id,
            submission.annotator,
            score,
            ScoreReference.GOLD,
            correct,
            True,
            submission.seconds_spent,
            item.round,
            submission.submitted_at,
        )
    )
    fx.emit(
        ReviewDecided(
            review_id=str(uuid.uuid4()),
            annotation_id=submission.annotation_id,
            decision=APPROVED if correct else REJECTED,
            agreement=score,
            has_agreement=True,
            quality_score=score,
            reason="matches the known answer" if correct else "differs from the known answer",
            stage="gold",
        )
    )
    return fx


def complete_by_model(
    item: ItemState, annotation_id: str, labels: Sequence[Label], threshold: float
) -> Effects:
    """A model's label that met the auto-annotation rules is final as it is."""
    fx = Effects()
    confidence = min((label.confidence for label in labels), default=0.0)
    fx.emit(
        ReviewDecided(
            review_id=str(uuid.uuid4()),
            annotation_id=annotation_id,
            decision=APPROVED,
            agreement=1.0,
            has_agreement=True,
            quality_score=confidence,
            reason=f"auto-accepted: confidence {confidence:.2f} meets threshold {threshold:.2f}",
            stage="auto-annotation",
        )
    )
    item.state, item.source = ReviewState.COMPLETED, CompletionSource.MODEL
    item.labels = list(labels)
    fx.final_labels = item.labels
    fx.emit(item_completed(annotation_id, item.labels, CompletionSource.MODEL))
    return fx


def _conclude_round(item: ItemState, ctx: Context, fx: Effects) -> None:
    if len(item.submissions) == 1:
        only = item.submissions[0]
        item.labels, item.agreement = list(only.labels), None
        with_model = agreement(only.labels, only.suggestion)
        minimum = ctx.min_agreement_with_model
        if with_model is not None and minimum > 0 and with_model < minimum:
            _send_back(
                item,
                ctx,
                fx,
                f"agreement {with_model:.2f} with the suggestion is below {minimum:.2f}",
            )
            return
    else:
        weights = [ctx.weights.get(s.annotator, ctx.default_weight) for s in item.submissions]
        consensus = item_consensus([s.labels for s in item.submissions], weights)
        item.labels, item.agreement = consensus.labels, consensus.agreement
        if consensus.tied:
            _flag(item, "the annotators' vote was tied")
        threshold = ctx.policy.consensus_threshold
        if consensus.agreement < threshold:
            _adjudicate(
                item,
                ctx,
                fx,
                f"consensus {consensus.agreement:.2f} is below {threshold:.2f}",
            )
            return
    _advance(item, ctx, fx, 0)


# --- the review stages ---------------------------------------------------------------------


def _auto_approval(item: ItemState, policy: ReviewPolicy) -> str | None:
    """Why the item needs no review, if a rule says so."""
    if item.flags:
        return None
    rules = policy.auto_approve
    if (
        rules.HasField("min_agreement")
        and item.agreement is not None
        and item.agreement >= rules.min_agreement
    ):
        return f"agreement {item.agreement:.2f} meets {rules.min_agreement:.2f}"
    if rules.HasField("min_model_confidence") and item.submissions:
        suggestion = item.submissions[0].suggestion
        matches = suggestion and (agreement(item.labels, suggestion) or 0.0) >= 1.0 - 1e-9
        confidence = min((label.confidence for label in suggestion), default=0.0)
        if matches and confidence >= rules.min_model_confidence:
            return (
                f"matches the model, whose confidence {confidence:.2f} meets "
                f"{rules.min_model_confidence:.2f}"
            )
    return None


def sampled(item_id: str, stage: str, fraction: float) -> bool:
    """Whether a fraction stage reviews the item: fixed per item and stage, uniform over items."""
    digest = hashlib.sha256(f"{item_id}\x00{stage}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def _covers(stage: ReviewStage, item: ItemState) -> str | None:
    """Why the stage reviews the item, if it does. Flagged items never skip a stage."""
    if item.flags:
        return "flagged: " + "; ".join(item.flags)
    if stage.coverage == ReviewCoverage.REVIEW_COVERAGE_FRACTION:
        if sampled(item.item_id, stage.name, stage.fraction):
            return f"sampled ({stage.fraction:.0%} of items)"
        return None
    if stage.coverage == ReviewCoverage.REVIEW_COVERAGE_FLAGGED:
        return None
    return "every item"


def _advance(item: ItemState, ctx: Context, fx: Effects, from_stage: int) -> None:
    if from_stage == 0:
        approval = _auto_approval(item, ctx.policy)
        if approval is not None:
            _complete(item, item.labels, _source(item), f"auto-approved: {approval}", fx)
            return
    for index in range(from_stage, len(ctx.policy.stages)):
        reason = _covers(ctx.policy.stages[index], item)
        if reason is not None:
            _open_stage(item, ctx, fx, index, reason)
            return
    reason = "approved at every stage" if from_stage else "no review stage applies"
    _complete(item, item.labels, _source(item), reason, fx)


def _open_stage(item: ItemState, ctx: Context, fx: Effects, index: int, reason: str) -> None:
    stage = ctx.policy.stages[index]
    task = _task_for(item, TaskKind.REVIEW, index, stage.name, stage.role, stage.team, reason)
    item.state, item.stage_index = ReviewState.IN_REVIEW, index
    item.review_task_id = task.review_task_id
    fx.tasks.append(task)
    fx.emit(
        ReviewRequested(
            review_task_id=task.review_task_id,
            stage_index=index,
            stage=stage.name,
            role=stage.role,
            team=stage.team,
            labels=task.labels,
            agreement=task.agreement,
            round=item.round,
            reason=reason,
        )
    )


def _task_for(
    item: ItemState, kind: TaskKind, index: int, stage: str, role: str, team: str, reason: str
) -> ReviewTaskSpec:
    """A task showing the item's current labels and annotations to whoever decides it."""
    return ReviewTaskSpec(
        review_task_id=str(uuid.uuid4()),
        kind=kind,
        stage_index=index,
        stage=stage,
        role=role,
        team=team,
        labels=list(item.labels),
        candidates=_candidates(item),
        agreement=_agreement_or_one(item),
        reason=reason,
        round=item.round,
        annotators=[s.annotator for s in item.submissions],
    )


def _source(item: ItemState) -> CompletionSource:
    return CompletionSource.CONSENSUS if len(item.submissions) > 1 else CompletionSource.HUMAN


def _agreement_or_one(item: ItemState) -> float:
    return 1.0 if item.agreement is None else item.agreement


def _candidates(item: ItemState) -> list[AnnotationCandidate]:
    return [
        AnnotationCandidate(annotation_id=s.annotation_id, annotator=s.annotator, labels=s.labels)
        for s in item.submissions
    ]


def decide_review(
    item: ItemState,
    review_task_id: str,
    approve: bool,
    reviewer: str,
    reason: str,
    ctx: Context,
) -> Effects:
    """A reviewer's decision at the item's current stage."""
    if item.state != ReviewState.IN_REVIEW or item.review_task_id != review_task_id:
        raise Conflict(f"item {item.item_id!r} is no longer waiting for this review")
    fx = Effects()
    stages = ctx.policy.stages
    stage = stages[item.stage_index].name if item.stage_index < len(stages) else "review"
    fx.emit(
        ReviewDecided(
            review_id=str(uuid.uuid4()),
            decision=APPROVED if approve else REJECTED,
            agreement=_agreement_or_one(item),
            has_agreement=item.agreement is not None,
            quality_score=_agreement_or_one(item),
            reason=reason,
            round=item.round,
            reviewer=reviewer,
            stage=stage,
            review_task_id=review_task_id,
        )
    )
    item.review_task_id = ""
    item.reviewed_by_person = item.reviewed_by_person or approve
    if approve:
        _advance(item, ctx, fx, item.stage_index + 1)
    else:
        _send_back(item, ctx, fx, f"rejected at {stage} by {reviewer}: {reason}")
    return fx


def decide_adjudication(
    item: ItemState,
    adjudication_id: str,
    labels: Sequence[Label],
    adjudicator: str,
    reason: str,
) -> Effects:
    """The adjudicator's labels are final."""
    if item.state != ReviewState.ADJUDICATION or item.review_task_id != adjudication_id:
        raise Conflict(f"item {item.item_id!r} is no longer waiting for this adjudication")
    fx = Effects()
    fx.emit(
        AdjudicationDecided(
            adjudication_id=adjudication_id, adjudicator=adjudicator, labels=labels, reason=reason
        )
    )
    item.review_task_id = ""
    item.reviewed_by_person = True
    _complete(
        item,
        list(labels),
        CompletionSource.ADJUDICATION,
        f"adjudicated by {adjudicator}: {reason}",
        fx,
    )
    return fx


def flag_item(
    item: ItemState, reason: str, flagged_by: str, annotation_id: str, ctx: Context
) -> tuple[Effects, Outcome]:
    """Send an item back through review; returns the effects and where the item went."""
    if item.state == ReviewState.GOLD:
        raise Conflict(f"item {item.item_id!r} is a gold item; it is never reviewed")
    fx = Effects()
    fx.emit(ItemFlagged(reason=reason, flagged_by=flagged_by, annotation_id=annotation_id))
    _flag(item, reason)
    if item.state != ReviewState.COMPLETED:
        return fx, Outcome(item.state.value)  # the flag applies when the item reaches the stages
    item.reviewed_by_person = False
    if ctx.policy.stages:
        _open_stage(item, ctx, fx, 0, f"flagged: {reason}")
    else:  # no stage to review it in: back to the annotators
        _send_back(item, ctx, fx, f"flagged: {reason}")
    return fx, _reopened(item)


def _reopened(item: ItemState) -> Outcome:
    """Where a reopened item went: back with the annotators is sent back."""
    return Outcome.SENT_BACK if item.state == ReviewState.ANNOTATING else Outcome(item.state.value)


def _flag(item: ItemState, reason: str) -> None:
    if reason not in item.flags:
        item.flags.append(reason)


# --- outcomes ------------------------------------------------------------------------------


def _send_back(item: ItemState, ctx: Context, fx: Effects, reason: str) -> None:
    if item.loops >= review_policy.max_review_loops(ctx.policy):
        _adjudicate(item, ctx, fx, f"{reason}; sent back {item.loops} times already")
        return
    item.loops += 1
    for submission in item.submissions:
        fx.emit(
            ReviewDecided(
                review_id=str(uuid.uuid4()),
                annotation_id=submission.annotation_id,
                decision=REJECTED,
                reason=reason,
                task_id=submission.task_id,
                round=item.round,
                stage="rework",
            )
        )
    item.round += 1
    item.submissions, item.labels, item.agreement, item.flags = [], [], None, []
    item.state, item.stage_index, item.source = ReviewState.ANNOTATING, -1, None


def _adjudicate(item: ItemState, ctx: Context, fx: Effects, reason: str) -> None:
    role = review_policy.adjudicator_role(ctx.policy)
    task = _task_for(item, TaskKind.ADJUDICATION, -1, "adjudication", role, "", reason)
    item.state, item.review_task_id = ReviewState.ADJUDICATION, task.review_task_id
    fx.tasks.append(task)
    fx.emit(
        AdjudicationRequested(
            adjudication_id=task.review_task_id,
            candidates=task.candidates,
            consensus=task.labels,
            agreement=task.agreement,
            reason=reason,
            round=item.round,
            role=role,
        )
    )


def _complete(
    item: ItemState, labels: list[Label], source: CompletionSource, reason: str, fx: Effects
) -> None:
    """Final labels: every annotation of the round is scored against them."""
    independent = len(item.submissions) > 1 or item.reviewed_by_person
    best_id, best = "", -1.0
    for submission in item.submissions:
        if independent:
            score = agreement(submission.labels, labels) or 0.0
            reference, correct = ScoreReference.FINAL, score >= CORRECT_AT
        else:  # a lone annotation nobody checked is only compared with the model
            with_model = agreement(submission.labels, submission.suggestion)
            score = 1.0 if with_model is None else with_model
            reference, correct = ScoreReference.SUGGESTION, None
        if score > best:
            best_id, best = submission.annotation_id, score
        fx.scores.append(
            Score(
                submission.annotation_id,
                submission.annotator,
                score,
                reference,
                correct,
                False,
                submission.seconds_spent,
                item.round,
                submission.submitted_at,
            )
        )
        accepted = correct is not False
        fx.emit(
            ReviewDecided(
                review_id=str(uuid.uuid4()),
                annotation_id=submission.annotation_id,
                decision=APPROVED if accepted else REJECTED,
                agreement=score,
                has_agreement=reference == ScoreReference.FINAL or bool(submission.suggestion),
                quality_score=score,
                reason=reason if accepted else f"overruled: {reason}",
                # The task closes with an accepted annotation; an overruled one changes nothing.
                task_id=submission.task_id if accepted else "",
                round=item.round,
                stage=source.value,
            )
        )
    item.state, item.labels, item.source = ReviewState.COMPLETED, labels, source
    item.stage_index, item.review_task_id = -1, ""
    fx.final_labels = labels
    completed = item_completed(best_id, labels, source, item.policy_version)
    if item.agreement is not None and not math.isnan(item.agreement):
        completed.agreement = item.agreement
    fx.emit(completed)


def item_completed(
    annotation_id: str, labels: Sequence[Label], source: CompletionSource, policy_version: int = 0
) -> ItemCompleted:
    """The event of an item's final labels, with its source in both the string and the enum."""
    return ItemCompleted(
        annotation_id=annotation_id,
        labels=labels,
        source=source.value,
        completion_source=COMPLETION_SOURCES[source],
        policy_version=policy_version,
    )


def quality_scored(score: Score) -> QualityScored:
    return QualityScored(
        annotation_id=score.annotation_id,
        annotator=score.annotator,
        agreement=score.agreement,
        reference=score.reference.value,
        score_reference=SCORE_REFERENCES[score.reference],
        gold=score.gold,
        gold_correct=bool(score.gold and score.correct),
        score=score.agreement,
        round=score.round,
        seconds_spent=score.seconds_spent,
    )


def settle(decisions: Sequence[tuple[bool, Sequence[Label]]], final: Sequence[Label]) -> list[bool]:
    """Whether each (approved, labels reviewed) decision matches the final labels."""
    out = []
    for approved, labels in decisions:
        same = (agreement(labels, final) if final else (0.0 if labels else 1.0)) or 0.0
        out.append(approved == (same >= 1.0 - 1e-9))
    return out
