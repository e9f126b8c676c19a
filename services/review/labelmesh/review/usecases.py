"""What the review service does with arriving annotations, and what it shares
with the review APIs: each project's context and how a step's effects are stored."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC

from google.protobuf.message import Message

from labelmesh.core import review_policy
from labelmesh.core.envelopes import new_envelope, service_actor
from labelmesh.core.errors import NotFound, RetryLater
from labelmesh.core.labels import labels_from_json, labels_to_json
from labelmesh.core.mongo import Transaction, UnitOfWork
from labelmesh.review import pipeline
from labelmesh.review.adapters.repository import ReviewRepository, task_document
from labelmesh.review.consensus import quality_weight
from labelmesh.review.metrics import ReviewMetrics
from labelmesh.review.pipeline import Context, Effects, ItemState, Submission
from labelmesh.review.reports import wilson_interval
from labelmesh.v1.events_pb2 import (
    Actor,
    AnnotationAutoAccepted,
    AnnotationSubmitted,
    AnnotatorFlagged,
    Envelope,
    ItemCompleted,
    ProjectSpec,
    ReviewDecided,
    ReviewDecision,
    ReviewPolicy,
)
from labelmesh.v1.geometry_pb2 import Label

SERVICE = "review"
Reviewable = AnnotationSubmitted | AnnotationAutoAccepted


@dataclass(frozen=True)
class Cause:
    """Who or what caused a step, for the envelopes of the events it emits."""

    actor: Actor
    trace_id: str = ""
    occurred_at: float | None = None  # when the causing event happened, for latency


Step = tuple[ItemState, Effects, Cause]

# Before any gold answer an annotator is taken to be right PRIOR_ACCURACY of the time, a
# belief worth PRIOR_ANSWERS answers; gold answers move them from there.
PRIOR_ACCURACY, PRIOR_ANSWERS = 0.8, 4


def vote_weight(correct: int, answers: int, n_classes: int) -> float:
    accuracy = (correct + PRIOR_ACCURACY * PRIOR_ANSWERS) / (answers + PRIOR_ANSWERS)
    return max(quality_weight(accuracy, n_classes=n_classes), 0.01)


class Review:
    def __init__(
        self, repository: ReviewRepository, uow: UnitOfWork, metrics: ReviewMetrics
    ) -> None:
        self.repository = repository
        self.uow = uow
        self.metrics = metrics

    # --- a project's context ---------------------------------------------------------------

    async def project(self, project_id: str) -> ProjectSpec:
        project = await self.repository.projects.get(project_id)
        if project is None:
            raise NotFound("project", project_id)
        return project

    async def policy(self, project_id: str) -> ReviewPolicy:
        """The policy in force; a project that never set one has overlap 1 and no stages."""
        await self.project(project_id)
        return await self.repository.policy(project_id) or ReviewPolicy()

    async def context(self, project_id: str) -> Context:
        project = await self.project(project_id)
        policy = await self.repository.policy(project_id) or ReviewPolicy()
        classes = max(2, len(project.classes))
        weights, flagged = {}, set()
        for record in await self.repository.annotator_records(project_id):
            weights[record["annotator"]] = vote_weight(
                record["gold_correct"], record["gold_answers"], classes
            )
            if record["flagged"]:
                flagged.add(record["annotator"])
        return Context(
            policy,
            project.review_min_agreement,
            weights,
            frozenset(flagged),
            default_weight=vote_weight(0, 0, classes),
        )

    # --- storing a step --------------------------------------------------------------------

    async def record(self, tx: Transaction, steps: Sequence[Step]) -> None:
        """Emit the steps' events and store their tasks, scores and decisions (not the
        items), each kind in one bulk write."""
        tasks, scores, decisions = [], [], []
        finals: dict[str, Sequence[Label]] = {}
        for item, fx, cause in steps:
            # Decisions, then their scores, then the completion that ends the item's trail.
            scored = [pipeline.quality_scored(score) for score in fx.scores]
            last = [e for e in fx.events if isinstance(e, ItemCompleted)]
            for event in [e for e in fx.events if e not in last] + scored + last:
                tx.emit(self._envelope(item, event, cause))
            where = (item.project_id, item.item_id)
            tasks += [task_document(*where, task) for task in fx.tasks]
            scores += [(*where, score) for score in fx.scores]
            decisions += [(*where, e) for e in fx.events if isinstance(e, ReviewDecided)]
            if fx.final_labels is not None:
                finals[item.item_id] = fx.final_labels
            self._count(fx, cause)
        await self.repository.insert_tasks(tx, tasks)
        await self.repository.save_scores(tx, scores)
        await self.repository.insert_decisions(tx, decisions)
        if finals:
            await self._settle(tx, finals)

    def _envelope(self, item: ItemState, event: Message, cause: Cause) -> Envelope:
        return new_envelope(
            event,
            producer=SERVICE,
            actor=cause.actor,
            project_id=item.project_id,
            item_id=item.item_id,
            trace_id=cause.trace_id,
        )

    async def _settle(self, tx: Transaction, finals: dict[str, Sequence[Label]]) -> None:
        """Reviewers' decisions on items that got final labels, against those labels."""
        by_item = await self.repository.unsettled_decisions(tx, list(finals))
        outcomes = []
        for item_id, open_decisions in by_item.items():
            matches = pipeline.settle(
                [(d["approved"], labels_from_json(d["labels"])) for d in open_decisions],
                finals[item_id],
            )
            for index, (decision, matched) in enumerate(zip(open_decisions, matches, strict=True)):
                later_by_others = any(
                    d["reviewer"] != decision["reviewer"] for d in open_decisions[index + 1 :]
                )
                outcomes.append((decision["_id"], matched, not matched and later_by_others))
        await self.repository.settle_decisions(tx, outcomes)

    def _count(self, fx: Effects, cause: Cause) -> None:
        for decision in (e for e in fx.events if isinstance(e, ReviewDecided)):
            self.metrics.decisions.labels(
                ReviewDecision.Name(decision.decision), decision.stage or "review"
            ).inc()
            if cause.occurred_at is not None and decision.annotation_id:
                self.metrics.decision_latency.observe(max(0.0, time.time() - cause.occurred_at))
        for task in fx.tasks:
            self.metrics.tasks_opened.labels(task.kind).inc()
        for score in fx.scores:
            self.metrics.scored.labels(score.reference).inc()

    # --- arriving annotations --------------------------------------------------------------

    async def review(self, arrivals: Sequence[tuple[Envelope, Reviewable]]) -> None:
        """Take in a fetch of annotations: one transaction, items updated in arrival order."""
        contexts: dict[str, Context] = {}
        for envelope, event in arrivals:
            if isinstance(event, AnnotationSubmitted) and envelope.project_id not in contexts:
                try:
                    contexts[envelope.project_id] = await self.context(envelope.project_id)
                except NotFound:
                    raise RetryLater(f"project {envelope.project_id!r} not known yet") from None

        async with self.uow.begin() as tx:
            fresh = {id(e) for e in await tx.claim_new([e for e, _ in arrivals], SERVICE)}
            todo = [(e, event) for e, event in arrivals if id(e) in fresh]
            if not todo:
                return
            item_ids = [e.item_id for e, _ in todo]
            items = await self.repository.load_items(tx, item_ids)
            gold = await self.repository.gold_answers(tx, item_ids)
            tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
            copies, steps = [], []
            for envelope, event in todo:
                item = items.setdefault(
                    envelope.item_id, ItemState(envelope.item_id, envelope.project_id)
                )
                cause = Cause(
                    actor=service_actor(SERVICE),
                    trace_id=envelope.trace_id,
                    occurred_at=envelope.occurred_at.ToDatetime().timestamp(),
                )
                if isinstance(event, AnnotationAutoAccepted):
                    fx = pipeline.complete_by_model(
                        item, event.annotation_id, list(event.labels), event.threshold
                    )
                    steps.append((item, fx, cause))
                    continue
                submission = Submission(
                    annotation_id=event.annotation_id,
                    annotator=event.annotator,
                    task_id=event.task_id,
                    labels=list(event.labels),
                    suggestion=list(event.suggestion),
                    seconds_spent=event.seconds_spent,
                    round=event.round,
                    submitted_at=envelope.occurred_at.ToDatetime(tzinfo=UTC),
                )
                is_gold = envelope.item_id in gold
                copies.append(_annotation_copy(envelope, event, is_gold))
                if is_gold:
                    item.state = pipeline.GOLD
                    fx = pipeline.score_gold(item, submission, gold[envelope.item_id])
                    counts = tally[(envelope.project_id, event.annotator)]
                    counts[0] += 1
                    counts[1] += int(bool(fx.scores[0].correct))
                else:
                    ctx = contexts[envelope.project_id]
                    fx = pipeline.add_submission(item, submission, event.overlap or 1, ctx)
                steps.append((item, fx, cause))
            await self.record(tx, steps)
            await self.repository.insert_annotations(tx, copies)
            await self.repository.save_items(tx, items.values())
            for project_id in {p for p, _ in tally}:
                per_annotator = {a: (n, c) for (p, a), (n, c) in tally.items() if p == project_id}
                await self.check_annotators(tx, contexts[project_id], project_id, per_annotator)

    async def check_annotators(
        self,
        tx: Transaction,
        ctx: Context,
        project_id: str,
        tally: dict[str, tuple[int, int]],
    ) -> None:
        """Count gold answers; flag an annotator once their accuracy is surely too low.

        "Surely" means the upper end of the 95% Wilson interval of their gold accuracy is
        below the threshold, so that a few unlucky answers flag nobody.
        """
        policy = ctx.policy
        records = await self.repository.count_gold(tx, project_id, tally)
        if policy.flag_below_accuracy <= 0:
            return
        for record in records:
            answers, correct = record["gold_answers"], record["gold_correct"]
            if record["flagged"] or answers < review_policy.min_gold_answers(policy):
                continue
            _, high = wilson_interval(correct, answers)
            if high >= policy.flag_below_accuracy:
                continue
            annotator = record["annotator"]
            await self.repository.mark_flagged(tx, project_id, annotator)
            rechecked = await self._recheck(tx, ctx, project_id, annotator)
            tx.emit(
                new_envelope(
                    AnnotatorFlagged(
                        annotator=annotator,
                        gold_accuracy=correct / answers,
                        gold_answers=answers,
                        threshold=policy.flag_below_accuracy,
                        rechecked_item_ids=rechecked,
                    ),
                    producer=SERVICE,
                    actor=service_actor(SERVICE),
                    project_id=project_id,
                )
            )
            self.metrics.annotators_flagged.inc()

    async def _recheck(
        self, tx: Transaction, ctx: Context, project_id: str, annotator: str
    ) -> list[str]:
        """Send the flagged annotator's most recent finished items back for review."""
        if not ctx.policy.recheck_recent:
            return []
        item_ids = await self.repository.completed_items_of(
            project_id, annotator, ctx.policy.recheck_recent
        )
        items = await self.repository.load_items(tx, item_ids)
        steps: list[Step] = []
        cause = Cause(actor=service_actor(SERVICE))
        for item in items.values():
            if item.state == pipeline.COMPLETED:
                fx, _ = pipeline.flag_item(
                    item, f"annotator {annotator!r} was flagged", "", "", ctx
                )
                steps.append((item, fx, cause))
        await self.record(tx, steps)
        await self.repository.save_items(tx, [item for item, _, _ in steps])
        return [item.item_id for item, _, _ in steps]

    async def item_reviews(self, item_id: str) -> tuple[list[ReviewDecided], ItemState | None]:
        reviews = await self.repository.decisions_of_item(item_id)
        return reviews, await self.repository.get_item(item_id)


def _annotation_copy(
    envelope: Envelope, event: AnnotationSubmitted, gold: bool
) -> dict[str, object]:
    return {
        "_id": event.annotation_id,
        "project_id": envelope.project_id,
        "item_id": envelope.item_id,
        "annotator": event.annotator,
        "round": event.round,
        "labels": labels_to_json(event.labels),
        "gold": gold,
        "submitted_at": envelope.occurred_at.ToDatetime(tzinfo=UTC),
    }
