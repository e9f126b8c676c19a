"""gRPC adapter of the review service."""

from __future__ import annotations

import grpc

from labelmesh.core.api import grpc_errors
from labelmesh.core.runner import GrpcService
from labelmesh.review.usecases import Review
from labelmesh.v1 import review_service_pb2 as pb
from labelmesh.v1 import review_service_pb2_grpc as pb_grpc


class ReviewServicer(pb_grpc.ReviewServiceServicer):
    def __init__(self, review: Review) -> None:
        self.review = review

    @grpc_errors
    async def GetItemReviews(
        self, request: pb.GetItemReviewsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetItemReviewsResponse:
        reviews, completed = await self.review.item_reviews(request.item_id)
        return pb.GetItemReviewsResponse(reviews=reviews, completed=completed)


def grpc_service(review: Review) -> GrpcService:
    return GrpcService(
        servicer=ReviewServicer(review),
        add_to_server=pb_grpc.add_ReviewServiceServicer_to_server,
        full_name=pb.DESCRIPTOR.services_by_name["ReviewService"].full_name,
    )
