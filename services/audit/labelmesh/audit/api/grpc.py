"""gRPC adapter of the audit service."""

from __future__ import annotations

import grpc

from labelmesh.audit.usecases import Audit
from labelmesh.audit.views import trail_response, verification_response
from labelmesh.core.api import grpc_errors
from labelmesh.core.runner import GrpcService
from labelmesh.v1 import audit_service_pb2 as pb
from labelmesh.v1 import audit_service_pb2_grpc as pb_grpc


class AuditServicer(pb_grpc.AuditServiceServicer):
    def __init__(self, audit: Audit) -> None:
        self.audit = audit

    @grpc_errors
    async def GetItemTrail(
        self, request: pb.GetItemTrailRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetItemTrailResponse:
        return trail_response(request.item_id, await self.audit.item_trail(request.item_id))

    @grpc_errors
    async def VerifyItemTrail(
        self, request: pb.VerifyItemTrailRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifyItemTrailResponse:
        return verification_response(await self.audit.verify_item(request.item_id))


def grpc_service(audit: Audit) -> GrpcService:
    return GrpcService.of(
        AuditServicer(audit),
        pb_grpc.add_AuditServiceServicer_to_server,
        pb.DESCRIPTOR,
        "AuditService",
    )
