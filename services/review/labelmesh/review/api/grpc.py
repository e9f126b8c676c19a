"""gRPC adapter of the review service."""

from __future__ import annotations

from datetime import UTC

import grpc

from labelmesh.core.api import grpc_errors, grpc_principal
from labelmesh.core.authentication import Authenticator
from labelmesh.core.runner import GrpcService
from labelmesh.review import views
from labelmesh.review.records import Window
from labelmesh.review.secured import SecuredReview
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
    def __init__(self, review: SecuredReview, authenticator: Authenticator) -> None:
        self.review = review
        self.authenticator = authenticator

    @grpc_errors
    async def GetItemReviews(
        self, request: pb.GetItemReviewsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetItemReviewsResponse:
        caller = await grpc_principal(self.authenticator, context)
        return views.item_reviews(await self.review.item_status(caller, request.item_id))

    @grpc_errors
    async def GetReviewPolicy(
        self, request: pb.GetReviewPolicyRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetReviewPolicyResponse:
        caller = await grpc_principal(self.authenticator, context)
        return views.review_policy(await self.review.policy(caller, request.project_id))

    @grpc_errors
    async def ConfigureReviewPolicy(
        self, request: pb.ConfigureReviewPolicyRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConfigureReviewPolicyResponse:
        caller = await grpc_principal(self.authenticator, context)
        policy = await self.review.configure_policy(
            caller, request.project_id, request.policy, request.user
        )
        return views.configured_policy(policy)

    @grpc_errors
    async def SetGoldStandards(
        self, request: pb.SetGoldStandardsRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetGoldStandardsResponse:
        caller = await grpc_principal(self.authenticator, context)
        results = await self.review.set_gold(
            caller,
            request.project_id,
            [(item.item_id, list(item.labels)) for item in request.items],
            request.user,
        )
        return views.gold_results(results)

    @grpc_errors
    async def NextReviewTask(
        self, request: pb.NextReviewTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.NextReviewTaskResponse:
        caller = await grpc_principal(self.authenticator, context)
        task = await self.review.next_task(caller, request.project_id, request.reviewer)
        return views.next_review_task(task)

    @grpc_errors
    async def DecideReviewTask(
        self, request: pb.DecideReviewTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.DecideReviewTaskResponse:
        caller = await grpc_principal(self.authenticator, context)
        if request.decision == ReviewDecision.REVIEW_DECISION_UNSPECIFIED:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "decision: APPROVED or REJECTED")
        outcome = await self.review.decide(
            caller,
            request.review_task_id,
            request.decision == ReviewDecision.REVIEW_DECISION_APPROVED,
            request.reason,
            list(request.labels),
            request.reviewer,
        )
        return views.decided(outcome)

    @grpc_errors
    async def FlagItem(
        self, request: pb.FlagItemRequest, context: grpc.aio.ServicerContext
    ) -> pb.FlagItemResponse:
        caller = await grpc_principal(self.authenticator, context)
        outcome = await self.review.flag_item(
            caller, request.item_id, request.reason, request.annotation_id, request.user
        )
        return views.flagged(outcome)

    @grpc_errors
    async def GetAnnotationScores(
        self, request: pb.GetAnnotationScoresRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAnnotationScoresResponse:
        caller = await grpc_principal(self.authenticator, context)
        scores = await self.review.annotation_scores(caller, window_of(request.scope))
        return views.annotation_scores(scores)

    @grpc_errors
    async def GetAnnotatorReport(
        self, request: pb.GetAnnotatorReportRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAnnotatorReportResponse:
        caller = await grpc_principal(self.authenticator, context)
        stats = await self.review.annotator_report(caller, window_of(request.scope))
        return views.annotator_report(stats)

    @grpc_errors
    async def GetReviewerReport(
        self, request: pb.GetReviewerReportRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetReviewerReportResponse:
        caller = await grpc_principal(self.authenticator, context)
        stats = await self.review.reviewer_report(caller, window_of(request.scope))
        return views.reviewer_report(stats)

    @grpc_errors
    async def GetAgreementReport(
        self, request: pb.GetAgreementReportRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAgreementReportResponse:
        caller = await grpc_principal(self.authenticator, context)
        return await self.review.agreement_report(caller, window_of(request.scope))


def grpc_service(review: SecuredReview, authenticator: Authenticator) -> GrpcService:
    return GrpcService(
        servicer=ReviewServicer(review, authenticator),
        add_to_server=pb_grpc.add_ReviewServiceServicer_to_server,
        full_name=pb.DESCRIPTOR.services_by_name["ReviewService"].full_name,
    )
