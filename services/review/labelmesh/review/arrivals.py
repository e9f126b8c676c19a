"""What the review service does with arriving annotations: each goes through its
item's pipeline step, gold answers are scored and counted, and an annotator whose
gold accuracy is surely too low is flagged."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC

from labelmesh.core import review_policy
from labelmesh.core.envelopes import service_actor
from labelmesh.core.fields import carry_fields
from labelmesh.core.uow import Transaction
from labelmesh.review import pipeline
from labelmesh.review.pipeline import Context, Effects, ItemState, Submission
from labelmesh.review.ports import ReviewStore
from labelmesh.review.recorder import SERVICE, Cause, Recorder, Step, review_envelope
from labelmesh.review.records import AnnotationCopy, ReviewState
from labelmesh.review.reports import wilson_interval
from labelmesh.review.tally import Tally
from labelmesh.v1.events_pb2 import (
    AnnotationAutoAccepted,
    AnnotationSubmitted,
    AnnotatorFlagged,
    Envelope,
)
from labelmesh.v1.geometry_pb2 import Label


def submission_of(envelope: Envelope, event: AnnotationSubmitted) -> Submission:
    return carry_fields(
        Submission,
        event,
        labels=list(event.labels),
        suggestion=list(event.suggestion),
        submitted_at=envelope.occurred_at.ToDatetime(tzinfo=UTC),
    )


def annotation_copy(envelope: Envelope, event: AnnotationSubmitted, gold: bool) -> AnnotationCopy:
    return carry_fields(
        AnnotationCopy,
        event,
        project_id=envelope.project_id,
        item_id=envelope.item_id,
        labels=list(event.labels),
        gold=gold,
        submitted_at=envelope.occurred_at.ToDatetime(tzinfo=UTC),
    )


@dataclass
class Intake:
    """What taking in one fetch's arrivals gathers besides their items' steps."""

    gold: Mapping[str, list[Label]]  # the known answer of each gold item among them
    contexts: Mapping[str, Context]  # the project of every submission
    copies: list[AnnotationCopy] = field(default_factory=list)
    # Gold answers and correct ones, per (project, annotator).
    tally: defaultdict[tuple[str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )


@dataclass(frozen=True)
class Submitted:
    """A person's annotation: scored against a gold answer, or added to its item."""

    envelope: Envelope
    event: AnnotationSubmitted

    def effects(self, item: ItemState, intake: Intake) -> Effects:
        envelope, event = self.envelope, self.event
        submission = submission_of(envelope, event)
        answer = intake.gold.get(envelope.item_id)
        intake.copies.append(annotation_copy(envelope, event, answer is not None))
        if answer is None:
            ctx = intake.contexts[envelope.project_id]
            return pipeline.add_submission(item, submission, event.overlap or 1, ctx)
        item.state = ReviewState.GOLD
        fx = pipeline.score_gold(item, submission, answer)
        counts = intake.tally[(envelope.project_id, event.annotator)]
        counts[0] += 1
        counts[1] += int(bool(fx.scores[0].correct))
        return fx


@dataclass(frozen=True)
class ModelAccepted:
    """A model's prediction the auto-annotation rules accepted: it completes its item."""

    envelope: Envelope
    event: AnnotationAutoAccepted

    def effects(self, item: ItemState, intake: Intake) -> Effects:
        event = self.event
        return pipeline.complete_by_model(
            item, event.annotation_id, list(event.labels), event.threshold
        )


Arrival = Submitted | ModelAccepted


@dataclass(eq=False)
class Arrivals:
    store: ReviewStore
    recorder: Recorder

    async def take_in(
        self,
        tx: Transaction,
        arrivals: Sequence[Arrival],
        contexts: Mapping[str, Context],
        tally: Tally,
    ) -> None:
        """Take in a fetch's fresh annotations, items updated in arrival order, in one
        transaction. `contexts` holds the project of every submission."""
        if not arrivals:
            return
        item_ids = [a.envelope.item_id for a in arrivals]
        items = await self.store.items.load(tx, item_ids)
        new_items = set(item_ids) - set(items)
        intake = Intake(await self.store.gold.answers(tx, item_ids), contexts)
        steps: list[Step] = []
        for arrival in arrivals:
            envelope = arrival.envelope
            item = items.setdefault(
                envelope.item_id, ItemState(envelope.item_id, envelope.project_id)
            )
            cause = Cause(
                actor=service_actor(SERVICE),
                trace_id=envelope.trace_id,
                occurred_at=envelope.occurred_at.ToNanoseconds() / 1e9,
            )
            steps.append(Step(item, arrival.effects(item, intake), cause))
        await self.recorder.record(tx, steps, tally, new_items)
        await self.store.annotations.insert(tx, intake.copies)
        await self.store.items.save(tx, items.values())
        for project_id in {p for p, _ in intake.tally}:
            per_annotator = {
                a: (n, c) for (p, a), (n, c) in intake.tally.items() if p == project_id
            }
            await self.check_annotators(tx, contexts[project_id], project_id, per_annotator, tally)

    async def check_annotators(
        self,
        tx: Transaction,
        ctx: Context,
        project_id: str,
        gold: Mapping[str, tuple[int, int]],
        tally: Tally,
    ) -> None:
        """Count gold answers; flag an annotator once their accuracy is surely too low.

        "Surely" means the upper end of the 95% Wilson interval of their gold accuracy is
        below the threshold, so that a few unlucky answers flag nobody.
        """
        policy = ctx.policy
        records = await self.store.annotators.count_gold(tx, project_id, gold)
        if policy.flag_below_accuracy <= 0:
            return
        for record in records:
            answers, correct = record.gold_answers, record.gold_correct
            if record.flagged or answers < review_policy.min_gold_answers(policy):
                continue
            _, high = wilson_interval(correct, answers)
            if high >= policy.flag_below_accuracy:
                continue
            await self.store.annotators.mark_flagged(tx, project_id, record.annotator)
            rechecked = await self._recheck(tx, ctx, project_id, record.annotator, tally)
            flagged = AnnotatorFlagged(
                annotator=record.annotator,
                gold_accuracy=correct / answers,
                gold_answers=answers,
                threshold=policy.flag_below_accuracy,
                rechecked_item_ids=rechecked,
            )
            tx.emit(review_envelope(flagged, service_actor(SERVICE), project_id))
            tally.flagged += 1

    async def _recheck(
        self, tx: Transaction, ctx: Context, project_id: str, annotator: str, tally: Tally
    ) -> list[str]:
        """Send the flagged annotator's most recent finished items back for review."""
        if not ctx.policy.recheck_recent:
            return []
        item_ids = await self.store.scores.recent_items_of(
            project_id, annotator, ctx.policy.recheck_recent
        )
        items = await self.store.items.load(tx, item_ids)
        steps: list[Step] = []
        cause = Cause(actor=service_actor(SERVICE))
        for item in items.values():
            if item.state == ReviewState.COMPLETED:
                fx, _ = pipeline.flag_item(
                    item, f"annotator {annotator!r} was flagged", "", "", ctx
                )
                steps.append(Step(item, fx, cause))
        await self.recorder.record(tx, steps, tally)
        await self.store.items.save(tx, [step.item for step in steps])
        return [step.item.item_id for step in steps]
