"""The review service's repositories, as the use cases see them.

MongoDB implements them in `adapters/`; in-memory twins for unit tests live in
`labelmesh.testing.twins.review`. One contract suite per port runs against both.
Methods that write inside a transaction take it; the few that change one
document on their own (claiming and cancelling a task) need none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from labelmesh.core.projects import ProjectDirectory
from labelmesh.core.uow import Transaction
from labelmesh.review.pipeline import ItemState
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
    Window,
)
from labelmesh.v1.events_pb2 import ReviewDecided, ReviewPolicy
from labelmesh.v1.geometry_pb2 import Label


class PolicyRepository(Protocol):
    """Each project's review policy, every version kept."""

    async def current(self, project_id: str) -> ReviewPolicy | None: ...

    async def save(self, tx: Transaction, project_id: str, policy: ReviewPolicy) -> bool:
        """Store a policy version; False if that version (or a later one) is already stored."""
        ...


class ItemRepository(Protocol):
    """Each item's way through the review pipeline."""

    async def load(self, tx: Transaction, item_ids: Iterable[str]) -> dict[str, ItemState]: ...

    async def get(self, item_id: str, tx: Transaction | None = None) -> ItemState | None: ...

    async def save(self, tx: Transaction, items: Iterable[ItemState]) -> None: ...


class ReviewTaskRepository(Protocol):
    """Review and adjudication tasks: the reviewers' queue."""

    async def insert(self, tx: Transaction, tasks: Sequence[ReviewTask]) -> None: ...

    async def get(self, task_id: str) -> ReviewTask | None: ...

    async def assigned_to(self, project_id: str, reviewer: str) -> ReviewTask | None: ...

    async def claim(
        self, project_id: str, reviewer: str, roles: Sequence[str], teams: Sequence[str]
    ) -> ReviewTask | None:
        """Assign the oldest open task the reviewer may take (never on their own work)."""
        ...

    async def close(self, tx: Transaction, task_id: str, reviewer: str) -> bool:
        """Mark an open or assigned task decided; False if it no longer was."""
        ...

    async def cancel(self, task_id: str) -> None:
        """A task whose item moved on can no longer be decided."""
        ...


class DecisionRepository(Protocol):
    """Every ReviewDecided, for an item's history."""

    async def append(self, tx: Transaction, decisions: Sequence[ItemDecision]) -> None: ...

    async def of_item(self, item_id: str) -> list[ReviewDecided]:
        """The item's decisions, oldest first."""
        ...


class ReviewerDecisionRepository(Protocol):
    """Reviewers' and adjudicators' decisions, settled against final labels."""

    async def record(self, tx: Transaction, decision: ReviewerDecision) -> None: ...

    async def unsettled(
        self, tx: Transaction, item_ids: Sequence[str]
    ) -> dict[str, list[ReviewerDecision]]:
        """Each item's decisions not yet compared with its final labels, oldest first."""
        ...

    async def settle(self, tx: Transaction, settlements: Sequence[Settlement]) -> None: ...

    async def in_window(self, window: Window) -> list[ReviewerDecision]:
        """Decisions in the window (by reviewer if it names one), oldest first."""
        ...


class ScoreRepository(Protocol):
    """One quality score per annotation."""

    async def save(self, tx: Transaction, scores: Sequence[StoredScore]) -> None:
        """Store scores; a new score of an annotation replaces the old one."""
        ...

    async def in_window(self, window: Window) -> list[StoredScore]:
        """Scores in the window (by annotator if it names one), oldest first."""
        ...

    async def recent_items_of(self, project_id: str, annotator: str, limit: int) -> list[str]:
        """The items of the annotator's `limit` most recent non-gold scores, newest first."""
        ...


class AnnotationRepository(Protocol):
    """The review's copy of each annotation."""

    async def insert(self, tx: Transaction, copies: Sequence[AnnotationCopy]) -> None:
        """Store new copies; Conflict if one is already stored."""
        ...

    async def in_window(self, window: Window) -> list[AnnotationCopy]:
        """Copies submitted in the window (by annotator if it names one), oldest first."""
        ...


class AnnotatorRepository(Protocol):
    """Gold tally and flag per project annotator."""

    async def of_project(self, project_id: str) -> list[AnnotatorRecord]: ...

    async def count_gold(
        self, tx: Transaction, project_id: str, tally: Mapping[str, tuple[int, int]]
    ) -> list[AnnotatorRecord]:
        """Add (answers, correct) per annotator; returns their records after the update."""
        ...

    async def mark_flagged(self, tx: Transaction, project_id: str, annotator: str) -> None: ...


class GoldRepository(Protocol):
    """Known answers of gold items."""

    async def answers(self, tx: Transaction, item_ids: Iterable[str]) -> dict[str, list[Label]]: ...

    async def save(self, tx: Transaction, answers: Sequence[GoldAnswer]) -> None:
        """Store items' answers, each replacing an earlier one, in one write."""
        ...


class MemberRepository(Protocol):
    """Review's copy of the memberships."""

    async def apply(self, tx: Transaction, member: MemberRecord) -> bool:
        """Store the membership as of `member.changed_at`; False, storing nothing,
        if a later state is already stored."""
        ...

    async def in_project(self, organization_id: str, project_id: str) -> list[MemberRecord]:
        """The project's memberships and its organisation's, removed ones too."""
        ...

    async def of_subject(
        self, organization_id: str, project_id: str, subject: str
    ) -> list[MemberRecord]:
        """The subject's membership in the project and in its organisation, as stored."""
        ...


@dataclass(frozen=True)
class ReviewStore:
    """Every repository of the review service."""

    projects: ProjectDirectory
    policies: PolicyRepository
    items: ItemRepository
    tasks: ReviewTaskRepository
    decisions: DecisionRepository
    reviewer_decisions: ReviewerDecisionRepository
    scores: ScoreRepository
    annotations: AnnotationRepository
    annotators: AnnotatorRepository
    gold: GoldRepository
    members: MemberRepository
