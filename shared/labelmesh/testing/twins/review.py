"""In-memory twins of the review service's repositories.

Records live in `MemoryState` tables (named "review.*"), so a transaction of
`InMemoryUnitOfWork` rolls them back. Orderings, replacements and conflicts
follow the MongoDB repositories; the contract suites in services/review/tests
hold both to the same assertions.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from prometheus_client import CollectorRegistry

from labelmesh.core.access import DEFAULT_ORGANIZATION
from labelmesh.core.envelopes import model_actor, new_envelope, user_actor
from labelmesh.core.errors import Conflict
from labelmesh.core.uow import Transaction
from labelmesh.review.app import ReviewUseCases, use_cases
from labelmesh.review.metrics import ReviewMetrics
from labelmesh.review.pipeline import ItemState
from labelmesh.review.ports import ReviewStore
from labelmesh.review.records import (
    AnnotationCopy,
    AnnotatorRecord,
    GoldAnswer,
    ItemDecision,
    MemberRecord,
    ReviewerDecision,
    ReviewTask,
    Settlement,
    StoredScore,
    TaskStatus,
    Window,
    member_ids,
)
from labelmesh.testing.memory import InMemoryProjectDirectory, InMemoryUnitOfWork, MemoryState
from labelmesh.v1.events_pb2 import (
    AnnotationAutoAccepted,
    AnnotationSubmitted,
    Envelope,
    Membership,
    MembershipChanged,
    ProjectCreated,
    ProjectSpec,
    ReviewCoverage,
    ReviewDecided,
    ReviewPolicy,
    ReviewStage,
    Role,
)
from labelmesh.v1.geometry_pb2 import Classification, Label

R = TypeVar("R")


def _in_window(records: Iterable[R], at: str, who: str, window: Window) -> list[R]:
    """A project's records in a time window on attribute `at` (and of `who`), oldest first."""
    chosen = []
    for record in records:
        moment: datetime = getattr(record, at)
        if record.project_id != window.project_id:  # type: ignore[attr-defined]
            continue
        if window.since is not None and moment < window.since:
            continue
        if window.until is not None and moment >= window.until:
            continue
        if window.user and getattr(record, who) != window.user:
            continue
        chosen.append(record)
    return sorted(chosen, key=lambda r: getattr(r, at))


class InMemoryPolicyRepository:
    def __init__(self, state: MemoryState) -> None:
        self.current_policies: dict[str, bytes] = state.table("review.policies")
        self.history: dict[tuple[str, int], bytes] = state.table("review.policy_history")

    async def current(self, project_id: str) -> ReviewPolicy | None:
        stored = self.current_policies.get(project_id)
        return ReviewPolicy.FromString(stored) if stored is not None else None

    async def save(self, tx: Transaction, project_id: str, policy: ReviewPolicy) -> bool:
        current = await self.current(project_id)
        if current is not None and current.version >= policy.version:
            return False
        if (project_id, policy.version) in self.history:
            raise Conflict(f"version {policy.version} of the policy is already stored")
        self.current_policies[project_id] = policy.SerializeToString()
        self.history[(project_id, policy.version)] = policy.SerializeToString()
        return True


class InMemoryItemRepository:
    def __init__(self, state: MemoryState) -> None:
        self.items: dict[str, ItemState] = state.table("review.items")

    async def load(self, tx: Transaction, item_ids: Iterable[str]) -> dict[str, ItemState]:
        wanted = set(item_ids)
        return {i: copy.deepcopy(item) for i, item in self.items.items() if i in wanted}

    async def get(self, item_id: str, tx: Transaction | None = None) -> ItemState | None:
        item = self.items.get(item_id)
        return copy.deepcopy(item) if item is not None else None

    async def save(self, tx: Transaction, items: Iterable[ItemState]) -> None:
        for item in items:
            self.items[item.item_id] = copy.deepcopy(item)


class InMemoryReviewTaskRepository:
    def __init__(self, state: MemoryState) -> None:
        self.tasks: dict[str, ReviewTask] = state.table("review.review_tasks")

    async def insert(self, tx: Transaction, tasks: Sequence[ReviewTask]) -> None:
        ids = [t.review_task_id for t in tasks]
        if len(set(ids)) < len(ids) or any(i in self.tasks for i in ids):
            raise Conflict("review task already stored")
        for task in tasks:
            self.tasks[task.review_task_id] = task

    async def get(self, task_id: str) -> ReviewTask | None:
        return self.tasks.get(task_id)

    async def assigned_to(self, project_id: str, reviewer: str) -> ReviewTask | None:
        return next(
            (
                t
                for t in self.tasks.values()
                if t.project_id == project_id
                and t.status == TaskStatus.ASSIGNED
                and t.assignee == reviewer
            ),
            None,
        )

    async def claim(
        self, project_id: str, reviewer: str, roles: Sequence[str], teams: Sequence[str]
    ) -> ReviewTask | None:
        candidates = [
            t
            for t in self.tasks.values()
            if t.project_id == project_id
            and t.status == TaskStatus.OPEN
            and reviewer not in t.annotators
            and (t.role in roles or t.team in teams)
        ]
        if not candidates:
            return None
        oldest = min(candidates, key=lambda t: t.created_at)
        claimed = dataclasses.replace(oldest, status=TaskStatus.ASSIGNED, assignee=reviewer)
        self.tasks[claimed.review_task_id] = claimed
        return claimed

    async def close(self, tx: Transaction, task_id: str, reviewer: str) -> bool:
        task = self.tasks.get(task_id)
        if task is None or not task.status.decidable:
            return False
        self.tasks[task_id] = dataclasses.replace(
            task, status=TaskStatus.DECIDED, assignee=reviewer
        )
        return True

    async def cancel(self, task_id: str) -> None:
        task = self.tasks.get(task_id)
        if task is not None and task.status.decidable:
            self.tasks[task_id] = dataclasses.replace(task, status=TaskStatus.CANCELLED)


class InMemoryDecisionRepository:
    def __init__(self, state: MemoryState) -> None:
        self.decisions: dict[str, ItemDecision] = state.table("review.decisions")

    async def append(self, tx: Transaction, decisions: Sequence[ItemDecision]) -> None:
        ids = [d.decision.review_id for d in decisions]
        if len(set(ids)) < len(ids) or any(i in self.decisions for i in ids):
            raise Conflict("decision already stored")
        for decision in decisions:
            self.decisions[decision.decision.review_id] = decision

    async def of_item(self, item_id: str) -> list[ReviewDecided]:
        return [d.decision for d in self.decisions.values() if d.item_id == item_id]


class InMemoryReviewerDecisionRepository:
    def __init__(self, state: MemoryState) -> None:
        self.decisions: dict[str, ReviewerDecision] = state.table("review.reviewer_decisions")

    async def record(self, tx: Transaction, decision: ReviewerDecision) -> None:
        if decision.review_task_id in self.decisions:
            raise Conflict("reviewer decision already stored")
        self.decisions[decision.review_task_id] = decision

    async def unsettled(
        self, tx: Transaction, item_ids: Sequence[str]
    ) -> dict[str, list[ReviewerDecision]]:
        wanted = set(item_ids)
        open_ones = sorted(
            (d for d in self.decisions.values() if d.item_id in wanted and not d.settled),
            key=lambda d: d.decided_at,
        )
        by_item: dict[str, list[ReviewerDecision]] = {}
        for decision in open_ones:
            by_item.setdefault(decision.item_id, []).append(decision)
        return by_item

    async def settle(self, tx: Transaction, settlements: Sequence[Settlement]) -> None:
        for s in settlements:
            decision = self.decisions.get(s.review_task_id)
            if decision is not None:
                self.decisions[s.review_task_id] = dataclasses.replace(
                    decision, settled=True, matches_final=s.matches_final, overturned=s.overturned
                )

    async def in_window(self, window: Window) -> list[ReviewerDecision]:
        return _in_window(self.decisions.values(), "decided_at", "reviewer", window)


class InMemoryScoreRepository:
    def __init__(self, state: MemoryState) -> None:
        self.scores: dict[str, StoredScore] = state.table("review.scores")

    async def save(self, tx: Transaction, scores: Sequence[StoredScore]) -> None:
        for score in scores:
            self.scores[score.annotation_id] = score

    async def in_window(self, window: Window) -> list[StoredScore]:
        return _in_window(self.scores.values(), "scored_at", "annotator", window)

    async def recent_items_of(self, project_id: str, annotator: str, limit: int) -> list[str]:
        mine = [
            s
            for s in self.scores.values()
            if s.project_id == project_id and s.annotator == annotator and not s.gold
        ]
        newest = sorted(mine, key=lambda s: s.scored_at, reverse=True)[:limit]
        return list(dict.fromkeys(s.item_id for s in newest))


class InMemoryAnnotationRepository:
    def __init__(self, state: MemoryState) -> None:
        self.annotations: dict[str, AnnotationCopy] = state.table("review.annotations")

    async def insert(self, tx: Transaction, copies: Sequence[AnnotationCopy]) -> None:
        ids = [c.annotation_id for c in copies]
        if len(set(ids)) < len(ids) or any(i in self.annotations for i in ids):
            raise Conflict("annotation already stored")
        for annotation in copies:
            self.annotations[annotation.annotation_id] = annotation

    async def in_window(self, window: Window) -> list[AnnotationCopy]:
        return _in_window(self.annotations.values(), "submitted_at", "annotator", window)


class InMemoryAnnotatorRepository:
    def __init__(self, state: MemoryState) -> None:
        self.annotators: dict[tuple[str, str], AnnotatorRecord] = state.table("review.annotators")

    async def of_project(self, project_id: str) -> list[AnnotatorRecord]:
        return [r for (p, _), r in self.annotators.items() if p == project_id]

    async def count_gold(
        self, tx: Transaction, project_id: str, tally: Mapping[str, tuple[int, int]]
    ) -> list[AnnotatorRecord]:
        records = []
        for annotator, (answers, correct) in tally.items():
            key = (project_id, annotator)
            held = self.annotators.get(key, AnnotatorRecord(project_id, annotator))
            record = dataclasses.replace(
                held,
                gold_answers=held.gold_answers + answers,
                gold_correct=held.gold_correct + correct,
            )
            self.annotators[key] = record
            records.append(record)
        return records

    async def mark_flagged(self, tx: Transaction, project_id: str, annotator: str) -> None:
        held = self.annotators.get((project_id, annotator))
        if held is not None:
            self.annotators[(project_id, annotator)] = dataclasses.replace(held, flagged=True)


class InMemoryGoldRepository:
    def __init__(self, state: MemoryState) -> None:
        self.gold: dict[str, GoldAnswer] = state.table("review.gold")

    async def answers(self, tx: Transaction, item_ids: Iterable[str]) -> dict[str, list[Label]]:
        wanted = set(item_ids)
        return {i: list(a.labels) for i, a in self.gold.items() if i in wanted}

    async def save(self, tx: Transaction, answers: Sequence[GoldAnswer]) -> None:
        self.gold.update((answer.item_id, answer) for answer in answers)


class InMemoryMemberRepository:
    def __init__(self, state: MemoryState) -> None:
        self.members: dict[str, MemberRecord] = state.table("review.members")

    async def apply(self, tx: Transaction, member: MemberRecord) -> bool:
        stored = self.members.get(member.member_id)
        if stored is not None and stored.changed_at > member.changed_at:
            return False
        self.members[member.member_id] = member
        return True

    async def in_project(self, organization_id: str, project_id: str) -> list[MemberRecord]:
        scopes = list(dict.fromkeys(("", project_id)))
        chosen = [
            m
            for m in self.members.values()
            if m.organization_id == organization_id and m.project_id in scopes
        ]
        return sorted(chosen, key=lambda m: (scopes.index(m.project_id), m.subject))

    async def of_subject(
        self, organization_id: str, project_id: str, subject: str
    ) -> list[MemberRecord]:
        ids = member_ids(organization_id, project_id, subject)
        return [self.members[i] for i in ids if i in self.members]


def in_memory_review_store(state: MemoryState) -> ReviewStore:
    """Every review repository as a twin over one state."""
    return ReviewStore(
        projects=InMemoryProjectDirectory(state),
        policies=InMemoryPolicyRepository(state),
        items=InMemoryItemRepository(state),
        tasks=InMemoryReviewTaskRepository(state),
        decisions=InMemoryDecisionRepository(state),
        reviewer_decisions=InMemoryReviewerDecisionRepository(state),
        scores=InMemoryScoreRepository(state),
        annotations=InMemoryAnnotationRepository(state),
        annotators=InMemoryAnnotatorRepository(state),
        gold=InMemoryGoldRepository(state),
        members=InMemoryMemberRepository(state),
    )


# --- the whole service on the twins, for use-case tests ----------------------------------

PROJECT = "p1"
POLICY = ReviewPolicy(
    overlap=3,
    consensus_threshold=0.6,
    stages=[
        ReviewStage(
            name="expert check", role="expert", coverage=ReviewCoverage.REVIEW_COVERAGE_FLAGGED
        )
    ],
)
# Experts in project p1: they review the flagged items and adjudicate.
EXPERTS = ("alice", "bob")


def cls(name: str) -> Label:
    return Label(classification=Classification(label=name), confidence=1.0)


@dataclass
class ReviewOnTwins:
    """The review service's use cases over the twins, its outbox, and builders of
    the events it consumes, for unit tests."""

    uow: InMemoryUnitOfWork
    app: ReviewUseCases

    @classmethod
    def build(cls) -> ReviewOnTwins:
        state = MemoryState()
        uow = InMemoryUnitOfWork(state)
        store = in_memory_review_store(state)
        return cls(uow, use_cases(store, uow, ReviewMetrics(CollectorRegistry())))

    async def deliver(self, *envelopes: Envelope) -> None:
        await self.app.dispatcher.handle(list(envelopes))

    def emitted(self, payload: str, key: str = "") -> list[Envelope]:
        return [e for e in self.uow.emitted(payload) if not key or key in (e.item_id, e.project_id)]

    @staticmethod
    def project_created(policy: ReviewPolicy = POLICY) -> Envelope:
        spec = ProjectSpec(
            project_id=PROJECT, classes=["ant", "bee", "cat", "dog"], review_policy=policy
        )
        return new_envelope(
            ProjectCreated(project=spec),
            producer="annotation",
            actor=user_actor("olga"),
            project_id=PROJECT,
        )

    @staticmethod
    def submitted(item_id: str, annotator: str, label: str, round_: int = 0) -> Envelope:
        return new_envelope(
            AnnotationSubmitted(
                annotation_id=f"{item_id}:{annotator}:{round_}",
                task_id=f"task:{item_id}:{annotator}",
                annotator=annotator,
                labels=[cls(label)],
                round=round_,
                overlap=3,
                seconds_spent=30.0,
            ),
            producer="annotation",
            actor=user_actor(annotator),
            project_id=PROJECT,
            item_id=item_id,
        )

    @staticmethod
    def auto_accepted(item_id: str, label: str = "cat") -> Envelope:
        return new_envelope(
            AnnotationAutoAccepted(
                annotation_id=f"auto-{item_id}", labels=[cls(label)], threshold=0.9
            ),
            producer="inference",
            actor=model_actor("m", "1"),
            project_id=PROJECT,
            item_id=item_id,
        )

    @staticmethod
    def membership_changed(
        subject: str,
        *roles: Role,
        project_id: str = PROJECT,
        teams: Sequence[str] = (),
        at: datetime | None = None,
    ) -> Envelope:
        """What the access service says when `subject`'s roles in `project_id`
        (the organisation's, for "") change; no roles removes the membership."""
        membership = Membership(
            organization_id=DEFAULT_ORGANIZATION,
            project_id=project_id,
            subject=subject,
            roles=roles,
            teams=teams,
        )
        envelope = new_envelope(
            MembershipChanged(membership=membership),
            producer="access",
            actor=user_actor("admin"),
            project_id=project_id,
        )
        if at is not None:
            envelope.occurred_at.FromDatetime(at)
        return envelope

    async def with_items(self, *votes: tuple[str, tuple[str, str, str]]) -> None:
        """Project p1 and its experts, and three annotations per item (ann, ben, cyd)."""
        await self.deliver(
            self.project_created(),
            *[self.membership_changed(expert, Role.ROLE_EXPERT) for expert in EXPERTS],
        )
        for item_id, labels in votes:
            await self.deliver(
                *[
                    self.submitted(item_id, who, label)
                    for who, label in zip(("ann", "ben", "cyd"), labels, strict=True)
                ]
            )
