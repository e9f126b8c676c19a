"""The review's closed sets between their Python StrEnums and their proto enums.

Output fills both the deprecated string field (the member's value, as stored)
and the enum field (from these tables). No request of the review API takes one
of these sets, so there is no input side.
"""

from __future__ import annotations

from labelmesh.core.enums import proto_values
from labelmesh.review.records import (
    CompletionSource,
    Outcome,
    ReviewState,
    ScoreReference,
    TaskKind,
    TaskStatus,
)
from labelmesh.v1 import events_pb2 as events
from labelmesh.v1 import review_service_pb2 as pb

REVIEW_STATES: dict[ReviewState, pb.ReviewState] = proto_values(ReviewState, pb.ReviewState)
TASK_KINDS: dict[TaskKind, pb.ReviewTaskKind] = proto_values(TaskKind, pb.ReviewTaskKind)
TASK_STATUSES: dict[TaskStatus, pb.ReviewTaskStatus] = proto_values(TaskStatus, pb.ReviewTaskStatus)
OUTCOMES: dict[Outcome, pb.ReviewOutcome] = proto_values(Outcome, pb.ReviewOutcome)
SCORE_REFERENCES: dict[ScoreReference, events.ScoreReference] = proto_values(
    ScoreReference, events.ScoreReference
)
COMPLETION_SOURCES: dict[CompletionSource, events.CompletionSource] = proto_values(
    CompletionSource, events.CompletionSource
)


def review_state(state: ReviewState | None) -> pb.ReviewState:
    """The proto enum of an item's state; unspecified for an item the review has not seen."""
    return REVIEW_STATES[state] if state is not None else pb.REVIEW_STATE_UNSPECIFIED
