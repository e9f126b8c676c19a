"""gRPC adapter of the review service."""

from __future__ import annotations

from datetime import UTC

import grpc

from labelmesh.core.api import grpc_caller, grpc_errors
from labelmesh.core.runner import GrpcService
from labelmesh.review.adapters.repository import Window
from labelmesh.review.facade import ReviewApi
from labelmesh.review.review_tasks import ReviewTaskView
from labelmesh.v1 import review_service_pb2 as pb
from labelmesh.v1 import review_service_pb2_grpc as pb_grpc
from labelmesh.v1.events_pb2 import ReviewDecision


def review_task_message(task: ReviewTaskView) -> pb.ReviewTask:
    return pb.ReviewTask(
        review_task_id=task.review_task_id,
        project_id=task.project_id,
        item_id=task.item_id,
        kind=task.kind,
        stage=task.stage,
        labels=task.labels,
        candidates=task.candidates,
        agreement=task.agreement,
        reason=task.reason,
        status=task.status,
        assignee=task.assignee,
    )


def window_of(scope: pb.ReportScope) -> Window:
    return Window(
        scope.project_id,
        scope.since.ToDatetime(tzinfo=UTC) if scope.HasField("since") else None,
        scope.until.ToDatetime(tzinfo=UTC) if scope.HasField("until") else None,
        scope.user,
    )


class ReviewServicer(pb_grpc.ReviewServiceServicer):
    def __init__(self, app: ReviewApi) -> None:
        self.app = app

    @grpc_errors
    async def GetItemReviews(
        self, request: pb.GetItemReviewsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetItemReviewsResponse:
        status = await self.app.item_status(request.item_id)
        return pb.GetItemReviewsResponse(
            reviews=status.reviews,
            completed=status.completed,
            state=status.state,
            final_labels=status.final_labels,
        )

    @grpc_errors
    async def GetReviewPolicy(
        self, request: pb.GetReviewPolicyRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetReviewPolicyResponse:
        return pb.GetReviewPolicyResponse(policy=await self.app.review.policy(request.project_id))

    @grpc_errors
    async def ConfigureReviewPolicy(
        self, request: pb.ConfigureReviewPolicyRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConfigureReviewPolicyResponse:
        policy = await self.app.quality.configure_policy(
            request.project_id, request.policy, request.user or grpc_caller(context)
        )
        return pb.ConfigureReviewPolicyResponse(policy=policy)

    @grpc_errors
    async def SetGoldStandards(
        self, request: pb.SetGoldStandardsRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetGoldStandardsResponse:
        results = await self.app.quality.set_gold(
            request.project_id,
            [(item.item_id, list(item.labels)) for item in request.items],
            request.user or grpc_caller(context),
        )
        return pb.SetGoldStandardsResponse(
            results=[
                pb.GoldStandardResult(item_id=r.item_id, ok=r.ok, field=r.field, reason=r.reason)
                for r in results
            ]
        )

    @grpc_errors
    async def NextReviewTask(
        self, request: pb.NextReviewTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.NextReviewTaskResponse:
        task = await self.app.tasks.next_task(request.project_id, request.reviewer)
        return pb.NextReviewTaskResponse(task=review_task_message(task) if task else None)

    @grpc_errors
    async def DecideReviewTask(
        self, request: pb.DecideReviewTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.DecideReviewTaskResponse:
        if request.decision == ReviewDecision.REVIEW_DECISION_UNSPECIFIED:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "decision: APPROVED or REJECTED")
        outcome = await self.app.tasks.decide(
            request.review_task_id,
            request.reviewer,
            request.decision == ReviewDecision.REVIEW_DECISION_APPROVED,
            request.reason,
            list(request.labels),
        )
        return pb.DecideReviewTaskResponse(outcome=outcome)

    @grpc_errors
    async def FlagItem(
        self, request: pb.FlagItemRequest, context: grpc.aio.ServicerContext
    ) -> pb.FlagItemResponse:
        outcome = await self.app.tasks.flag_item(
            request.item_id,
            request.reason,
            request.annotation_id,
            request.user or grpc_caller(context),
        )
        return pb.FlagItemResponse(outcome=outcome)

    @grpc_errors
    async def GetAnnotationScores(
        self, request: pb.GetAnnotationScoresRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAnnotationScoresResponse:
        scores = await self.app.quality.annotation_scores(window_of(request.scope))
        return pb.GetAnnotationScoresResponse(scores=scores)

    @grpc_errors
    async def GetAnnotatorReport(
        self, request: pb.GetAnnotatorReportRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAnnotatorReportResponse:
        stats = await self.app.quality.annotator_report(window_of(request.scope))
        return pb.GetAnnotatorReportResponse(annotators=stats)

    @grpc_errors
    async def GetReviewerReport(
        self, request: pb.GetReviewerReportRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetReviewerReportResponse:
        stats = await self.app.quality.reviewer_report(window_of(request.scope))
        return pb.GetReviewerReportResponse(reviewers=stats)

    @grpc_errors
    async def GetAgreementReport(
        self, request: pb.GetAgreementReportRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAgreementReportResponse:
        return await self.app.quality.agreement_report(window_of(request.scope))


def grpc_service(app: ReviewApi) -> GrpcService:
    return GrpcService(
        servicer=ReviewServicer(app),
        add_to_server=pb_grpc.add_ReviewServiceServicer_to_server,
        full_name=pb.DESCRIPTOR.services_by_name["ReviewService"].full_name,
    )
