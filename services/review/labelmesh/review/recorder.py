"""Storing what a pipeline step did: its events, tasks, scores and decisions,
and the settling of reviewers' decisions once an item has final labels."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.message import Message

from labelmesh.core.envelopes import new_envelope
from labelmesh.core.fields import carry_fields
from labelmesh.core.uow import Transaction
from labelmesh.review import pipeline
from labelmesh.review.pipeline import Effects, ItemState
from labelmesh.review.ports import ReviewStore
from labelmesh.review.records import ItemDecision, ReviewTask, Settlement, StoredScore
from labelmesh.review.tally import Tally
from labelmesh.v1.events_pb2 import (
    Actor,
    Envelope,
    ItemCompleted,
    ReviewDecided,
)
from labelmesh.v1.geometry_pb2 import Label

SERVICE = "review"


@dataclass(frozen=True)
class Cause:
    """Who or what caused a step, for the envelopes of the events it emits."""

    actor: Actor
    trace_id: str = ""
    occurred_at: float | None = None  # when the causing event happened, for latency


@dataclass(frozen=True)
class Step:
    """One pipeline step on one item: the item after it, its effects and its cause."""

    item: ItemState
    effects: Effects
    cause: Cause


def review_envelope(
    event: Message, actor: Actor, project_id: str, item_id: str = "", trace_id: str = ""
) -> Envelope:
    """An event the review service emits."""
    return new_envelope(
        event,
        producer=SERVICE,
        actor=actor,
        project_id=project_id,
        item_id=item_id,
        trace_id=trace_id,
    )


def stored_score(item: ItemState, score: pipeline.Score, at: datetime) -> StoredScore:
    return carry_fields(
        StoredScore,
        score,
        project_id=item.project_id,
        item_id=item.item_id,
        gold_correct=bool(score.gold and score.correct),
        score=score.agreement,
        scored_at=at,
    )


@dataclass(eq=False)
class Recorder:
    store: ReviewStore

    async def record(
        self,
        tx: Transaction,
        steps: Sequence[Step],
        tally: Tally,
        new_items: Collection[str] = (),
    ) -> None:
        """Emit the steps' events and store their tasks, scores and decisions (not the
        items), each kind in one bulk write; count them in `tally`.

        `new_items` are items this transaction found unstored: no reviewer has decided
        on them yet, so there is nothing of theirs to settle."""
        at = datetime.now(UTC)
        tasks: list[ReviewTask] = []
        scores: list[StoredScore] = []
        decisions: list[ItemDecision] = []
        finals: dict[str, Sequence[Label]] = {}
        for step in steps:
            item, fx = step.item, step.effects
            # Decisions, then their scores, then the completion that ends the item's trail.
            scored = [pipeline.quality_scored(score) for score in fx.scores]
            last = [e for e in fx.events if isinstance(e, ItemCompleted)]
            for event in [e for e in fx.events if e not in last] + scored + last:
                tx.emit(
                    review_envelope(
                        event, step.cause.actor, item.project_id, item.item_id, step.cause.trace_id
                    )
                )
            tasks += [ReviewTask.opened(item.project_id, item.item_id, t, at) for t in fx.tasks]
            scores += [stored_score(item, score, at) for score in fx.scores]
            decisions += [
                ItemDecision(item.project_id, item.item_id, e)
                for e in fx.events
                if isinstance(e, ReviewDecided)
            ]
            if fx.final_labels is not None and item.item_id not in new_items:
                finals[item.item_id] = fx.final_labels
            tally.add(fx, step.cause.occurred_at)
        await self.store.tasks.insert(tx, tasks)
        await self.store.scores.save(tx, scores)
        await self.store.decisions.append(tx, decisions)
        if finals:
            await self._settle(tx, finals)

    async def _settle(self, tx: Transaction, finals: dict[str, Sequence[Label]]) -> None:
        """Reviewers' decisions on items that got final labels, against those labels."""
        by_item = await self.store.reviewer_decisions.unsettled(tx, list(finals))
        settlements = []
        for item_id, open_decisions in by_item.items():
            matches = pipeline.settle(
                [(d.approved, d.labels) for d in open_decisions], finals[item_id]
            )
            for index, (decision, matched) in enumerate(zip(open_decisions, matches, strict=True)):
                later_by_others = any(
                    d.reviewer != decision.reviewer for d in open_decisions[index + 1 :]
                )
                settlements.append(
                    Settlement(decision.review_task_id, matched, not matched and later_by_others)
                )
        await self.store.reviewer_decisions.settle(tx, settlements)
