"""What the review service stores, as its repositories take and return it.

An item's own state is `pipeline.ItemState` (the pipeline works on it); the
records here are everything else the service keeps: the reviewers' tasks, the
history of decisions, scores, the review's copy of each annotation, the gold
tally per annotator, the known answers and the copy of the memberships. The
closed sets here are stored as their string values; `enums` maps them to the
proto enums.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum

from labelmesh.v1.events_pb2 import AnnotationCandidate, ReviewDecided
from labelmesh.v1.geometry_pb2 import Label


class ReviewState(StrEnum):
    """Where an item is in its project's review."""

    ANNOTATING = "annotating"
    IN_REVIEW = "in_review"
    ADJUDICATION = "adjudication"
    COMPLETED = "completed"
    GOLD = "gold"


class CompletionSource(StrEnum):
    """Where an item's final labels came from."""

    HUMAN = "human"
    MODEL = "model"
    CONSENSUS = "consensus"
    ADJUDICATION = "adjudication"


class ScoreReference(StrEnum):
    """What an annotation's quality score compared it with."""

    GOLD = "gold"  # the known answer of a gold item
    FINAL = "final"  # the item's final labels, independently checked
    SUGGESTION = "suggestion"  # the model's suggestion, for a lone unchecked annotation


class TaskKind(StrEnum):
    """What a reviewer's task asks for."""

    REVIEW = "review"
    ADJUDICATION = "adjudication"


class TaskStatus(StrEnum):
    """Where a review task stands in the reviewers' queue."""

    OPEN = "open"
    ASSIGNED = "assigned"
    DECIDED = "decided"
    CANCELLED = "cancelled"

    @property
    def decidable(self) -> bool:
        return self in (TaskStatus.OPEN, TaskStatus.ASSIGNED)


class Outcome(StrEnum):
    """Where an item went after a reviewer's decision or a flag."""

    NEXT_STAGE = "next_stage"
    COMPLETED = "completed"
    SENT_BACK = "sent_back"
    ADJUDICATION = "adjudication"
    IN_REVIEW = "in_review"
    ANNOTATING = "annotating"
    GOLD = "gold"


@dataclass(frozen=True)
class Window:
    """A report's scope: a project, a time window and optionally one person."""

    project_id: str
    since: datetime | None = None
    until: datetime | None = None
    user: str = ""


@dataclass(frozen=True)
class ReviewTaskSpec:
    """A review or adjudication task to open."""

    review_task_id: str
    kind: TaskKind
    stage_index: int
    stage: str
    role: str
    team: str
    labels: list[Label]
    candidates: list[AnnotationCandidate]
    agreement: float
    reason: str
    round: int
    annotators: list[str]


@dataclass(frozen=True)
class ReviewTask(ReviewTaskSpec):
    """A review or adjudication task in the reviewers' queue."""

    project_id: str
    item_id: str
    created_at: datetime
    status: TaskStatus = TaskStatus.OPEN
    assignee: str = ""

    @classmethod
    def opened(
        cls, project_id: str, item_id: str, spec: ReviewTaskSpec, at: datetime
    ) -> ReviewTask:
        """The open task a pipeline step asked for."""
        asked = {f.name: getattr(spec, f.name) for f in fields(ReviewTaskSpec)}
        return cls(**asked, project_id=project_id, item_id=item_id, created_at=at)


@dataclass(frozen=True)
class ItemDecision:
    """One ReviewDecided in an item's history."""

    project_id: str
    item_id: str
    decision: ReviewDecided


@dataclass(frozen=True)
class ReviewerDecision:
    """A reviewer's or adjudicator's decision, settled once the item has final labels."""

    review_task_id: str
    project_id: str
    item_id: str
    reviewer: str
    stage: str
    approved: bool
    labels: list[Label]
    decided_at: datetime
    settled: bool = False
    matches_final: bool | None = None
    overturned: bool | None = None


@dataclass(frozen=True)
class Settlement:
    """A decision compared with its item's final labels."""

    review_task_id: str
    matches_final: bool
    overturned: bool  # a later decision by someone else changed the outcome


@dataclass(frozen=True)
class StoredScore:
    """The quality score of one annotation; a new score replaces the old one."""

    annotation_id: str
    project_id: str
    item_id: str
    annotator: str
    round: int
    agreement: float
    reference: ScoreReference
    gold: bool
    gold_correct: bool  # a gold answer that was right
    correct: bool | None  # None when nothing independent was compared
    score: float
    seconds_spent: float
    scored_at: datetime
    submitted_at: datetime | None = None


@dataclass(frozen=True)
class AnnotationCopy:
    """The review's copy of an annotation, for the agreement report."""

    annotation_id: str
    project_id: str
    item_id: str
    annotator: str
    round: int
    labels: list[Label]
    gold: bool
    submitted_at: datetime


@dataclass(frozen=True)
class AnnotatorRecord:
    """An annotator's gold tally in one project, and whether they are flagged."""

    project_id: str
    annotator: str
    gold_answers: int = 0
    gold_correct: int = 0
    flagged: bool = False


@dataclass(frozen=True)
class GoldAnswer:
    """The known answer of a gold item."""

    item_id: str
    project_id: str
    labels: list[Label]
    set_by: str
    set_at: datetime


@dataclass(frozen=True)
class MemberRecord:
    """Review's copy of one membership (`project_id` empty: organisation-wide), as of
    the MembershipChanged that set it. Roles by short name ("expert"); a removed
    membership stays as a record with no roles, so that a late older event cannot
    bring it back."""

    organization_id: str
    project_id: str
    subject: str
    roles: tuple[str, ...]
    teams: tuple[str, ...]
    changed_at: datetime

    @property
    def member_id(self) -> str:
        return member_id(self.organization_id, self.project_id, self.subject)


def member_id(organization_id: str, project_id: str, subject: str) -> str:
    return f"{organization_id}/{project_id}/{subject}"


def member_ids(organization_id: str, project_id: str, subject: str) -> list[str]:
    """The ids of the subject's memberships in the organisation and in the project."""
    scopes = dict.fromkeys(("", project_id))
    return [member_id(organization_id, scope, subject) for scope in scopes]
