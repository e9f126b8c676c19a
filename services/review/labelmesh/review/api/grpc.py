"""gRPC adapter of the review service."""

from __future__ import annotations

from datetime import UTC

import grpc

from labelmesh.core.api import grpc_caller, grpc_errors
from labelmesh.core.runner import GrpcService
from labelmesh.review import views
from labelmesh.review.facade import ReviewApi
from labelmesh.review.records import Window
from labelmesh.v1 import review_service_pb2 as pb
from labelmesh.v1 import review_service_pb2_grpc as pb_grpc
from labelmesh.v1.events_pb2 import ReviewDecision


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
        return views.item_reviews(await self.app.item_status(request.item_id))

    @grpc_errors
    async def GetReviewPolicy(
        self, request: pb.GetReviewPolicyRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetReviewPolicyResponse:
        return views.review_policy(await self.app.policy(request.project_id))

    @grpc_errors
    async def ConfigureReviewPolicy(
        self, request: pb.ConfigureReviewPolicyRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConfigureReviewPolicyResponse:
        policy = await self.app.quality.configure_policy(
            request.project_id, request.policy, request.user or grpc_caller(context)
        )
        return views.configured_policy(policy)

    @grpc_errors
    async def SetGoldStandards(
        self, request: pb.SetGoldStandardsRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetGoldStandardsResponse:
        results = await self.app.quality.set_gold(
            request.project_id,
            [(item.item_id, list(item.labels)) for item in request.items],
            request.user or grpc_caller(context),
        )
        return views.gold_results(results)

    @grpc_errors
    async def NextReviewTask(
        self, request: pb.NextReviewTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.NextReviewTaskResponse:
        task = await self.app.tasks.next_task(request.project_id, request.reviewer)
        return views.next_review_task(task)

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
        return views.decided(outcome)

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
        return views.flagged(outcome)

    @grpc_errors
    async def GetAnnotationScores(
        self, request: pb.GetAnnotationScoresRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAnnotationScoresResponse:
        scores = await self.app.quality.annotation_scores(window_of(request.scope))
        return views.annotation_scores(scores)

    @grpc_errors
    async def GetAnnotatorReport(
        self, request: pb.GetAnnotatorReportRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAnnotatorReportResponse:
        stats = await self.app.quality.annotator_report(window_of(request.scope))
        return views.annotator_report(stats)

    @grpc_errors
    async def GetReviewerReport(
        self, request: pb.GetReviewerReportRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetReviewerReportResponse:
        stats = await self.app.quality.reviewer_report(window_of(request.scope))
        return views.reviewer_report(stats)

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
