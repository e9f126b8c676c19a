"""The review service's resources as the proto messages its gRPC methods return;
REST returns the proto-JSON of the same messages."""

from __future__ import annotations

from collections.abc import Sequence

from labelmesh.review import enums
from labelmesh.review.facade import ItemStatus
from labelmesh.review.quality import GoldResult
from labelmesh.review.records import Outcome, ReviewTask
from labelmesh.v1 import review_service_pb2 as pb
from labelmesh.v1.events_pb2 import ReviewPolicy
from labelmesh.v1.review_service_pb2 import (
    AnnotationScore,
    AnnotatorStats,
    ReviewerStats,
)


def item_reviews(status: ItemStatus) -> pb.GetItemReviewsResponse:
    """Every decision on an item, and where the item stands."""
    return pb.GetItemReviewsResponse(
        reviews=status.reviews,
        completed=status.completed,
        state=status.state.value if status.state is not None else "",
        final_labels=status.final_labels,
        review_state=enums.review_state(status.state),
    )


def review_task(task: ReviewTask) -> pb.ReviewTask:
    """A review or adjudication task as a reviewer sees it."""
    return pb.ReviewTask(
        review_task_id=task.review_task_id,
        project_id=task.project_id,
        item_id=task.item_id,
        kind=task.kind.value,
        stage=task.stage,
        labels=task.labels,
        candidates=task.candidates,
        agreement=task.agreement,
        reason=task.reason,
        status=task.status.value,
        assignee=task.assignee,
        task_kind=enums.TASK_KINDS[task.kind],
        task_status=enums.TASK_STATUSES[task.status],
    )


def next_review_task(task: ReviewTask | None) -> pb.NextReviewTaskResponse:
    return pb.NextReviewTaskResponse(task=review_task(task) if task else None)


def review_policy(policy: ReviewPolicy) -> pb.GetReviewPolicyResponse:
    return pb.GetReviewPolicyResponse(policy=policy)


def configured_policy(policy: ReviewPolicy) -> pb.ConfigureReviewPolicyResponse:
    return pb.ConfigureReviewPolicyResponse(policy=policy)


def gold_results(results: Sequence[GoldResult]) -> pb.SetGoldStandardsResponse:
    return pb.SetGoldStandardsResponse(
        results=[
            pb.GoldStandardResult(item_id=r.item_id, ok=r.ok, field=r.field, reason=r.reason)
            for r in results
        ]
    )


def decided(outcome: Outcome) -> pb.DecideReviewTaskResponse:
    return pb.DecideReviewTaskResponse(
        outcome=outcome.value, review_outcome=enums.OUTCOMES[outcome]
    )


def flagged(outcome: Outcome) -> pb.FlagItemResponse:
    return pb.FlagItemResponse(outcome=outcome.value, review_outcome=enums.OUTCOMES[outcome])


def annotation_scores(scores: Sequence[AnnotationScore]) -> pb.GetAnnotationScoresResponse:
    return pb.GetAnnotationScoresResponse(scores=scores)


def annotator_report(stats: Sequence[AnnotatorStats]) -> pb.GetAnnotatorReportResponse:
    return pb.GetAnnotatorReportResponse(annotators=stats)


def reviewer_report(stats: Sequence[ReviewerStats]) -> pb.GetReviewerReportResponse:
    return pb.GetReviewerReportResponse(reviewers=stats)
