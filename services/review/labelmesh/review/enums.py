"""The review's closed sets between their Python StrEnums and their proto enums.

Output fills both the deprecated string field (the member's value, as stored)
and the enum field (from these tables). No request of the review API takes one
of these sets, so there is no input side.
"""

from __future__ import annotations

from labelmesh.review.records import (
    CompletionSource,
    Outcome,
    ReviewState,
    TaskKind,
    TaskStatus,
)
from labelmesh.v1 import events_pb2 as events
from labelmesh.v1 import review_service_pb2 as pb

REVIEW_STATES: dict[ReviewState, pb.ReviewState] = {
    ReviewState.ANNOTATING: pb.REVIEW_STATE_ANNOTATING,
    ReviewState.IN_REVIEW: pb.REVIEW_STATE_IN_REVIEW,
    ReviewState.ADJUDICATION: pb.REVIEW_STATE_ADJUDICATION,
    ReviewState.COMPLETED: pb.REVIEW_STATE_COMPLETED,
    ReviewState.GOLD: pb.REVIEW_STATE_GOLD,
}
TASK_KINDS: dict[TaskKind, pb.ReviewTaskKind] = {
    TaskKind.REVIEW: pb.REVIEW_TASK_KIND_REVIEW,
    TaskKind.ADJUDICATION: pb.REVIEW_TASK_KIND_ADJUDICATION,
}
TASK_STATUSES: dict[TaskStatus, pb.ReviewTaskStatus] = {
    TaskStatus.OPEN: pb.REVIEW_TASK_STATUS_OPEN,
    TaskStatus.ASSIGNED: pb.REVIEW_TASK_STATUS_ASSIGNED,
    TaskStatus.DECIDED: pb.REVIEW_TASK_STATUS_DECIDED,
    TaskStatus.CANCELLED: pb.REVIEW_TASK_STATUS_CANCELLED,
}
OUTCOMES: dict[Outcome, pb.ReviewOutcome] = {
    Outcome.NEXT_STAGE: pb.REVIEW_OUTCOME_NEXT_STAGE,
    Outcome.COMPLETED: pb.REVIEW_OUTCOME_COMPLETED,
    Outcome.SENT_BACK: pb.REVIEW_OUTCOME_SENT_BACK,
    Outcome.ADJUDICATION: pb.REVIEW_OUTCOME_ADJUDICATION,
    Outcome.IN_REVIEW: pb.REVIEW_OUTCOME_IN_REVIEW,
    Outcome.ANNOTATING: pb.REVIEW_OUTCOME_ANNOTATING,
    Outcome.GOLD: pb.REVIEW_OUTCOME_GOLD,
}
COMPLETION_SOURCES: dict[CompletionSource, events.CompletionSource] = {
    CompletionSource.HUMAN: events.COMPLETION_SOURCE_HUMAN,
    CompletionSource.MODEL: events.COMPLETION_SOURCE_MODEL,
    CompletionSource.CONSENSUS: events.COMPLETION_SOURCE_CONSENSUS,
    CompletionSource.ADJUDICATION: events.COMPLETION_SOURCE_ADJUDICATION,
}


def review_state(state: ReviewState | None) -> pb.ReviewState:
    """The proto enum of an item's state; unspecified for an item the review has not seen."""
    return REVIEW_STATES[state] if state is not None else pb.REVIEW_STATE_UNSPECIFIED
