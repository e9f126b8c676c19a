"""gRPC adapter of the audit service."""

from __future__ import annotations

import grpc

from labelmesh.audit.secured import SecuredAudit
from labelmesh.audit.views import trail_response, verification_response
from labelmesh.core.api import grpc_errors, grpc_principal
from labelmesh.core.authentication import Authenticator
from labelmesh.core.runner import GrpcService
from labelmesh.v1 import audit_service_pb2 as pb
from labelmesh.v1 import audit_service_pb2_grpc as pb_grpc


class AuditServicer(pb_grpc.AuditServiceServicer):
    def __init__(self, audit: SecuredAudit, authenticator: Authenticator) -> None:
        self.audit = audit
        self.authenticator = authenticator

    @grpc_errors
    async def GetItemTrail(
        self, request: pb.GetItemTrailRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetItemTrailResponse:
        caller = await grpc_principal(self.authenticator, context)
        entries = await self.audit.item_trail(caller, request.item_id)
        return trail_response(request.item_id, entries)

    @grpc_errors
    async def VerifyItemTrail(
        self, request: pb.VerifyItemTrailRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifyItemTrailResponse:
        caller = await grpc_principal(self.authenticator, context)
        return verification_response(await self.audit.verify_item(caller, request.item_id))


def grpc_service(audit: SecuredAudit, authenticator: Authenticator) -> GrpcService:
    return GrpcService.of(
        AuditServicer(audit, authenticator),
        pb_grpc.add_AuditServiceServicer_to_server,
        pb.DESCRIPTOR,
        "AuditService",
    )
