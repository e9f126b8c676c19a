"""gRPC adapter of the audit service."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from labelmesh.audit.secured import SecuredAudit
from labelmesh.audit.usecases import MAX_PAGE, page_size
from labelmesh.audit.views import (
    history_response,
    page_response,
    project_verification_response,
    query_of,
    trail_response,
    verification_response,
)
from labelmesh.core.api import GRPC_MAPPED_ERRORS, grpc_errors, grpc_principal, grpc_status_of
from labelmesh.core.authentication import Authenticator
from labelmesh.core.errors import InvalidField
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

    @grpc_errors
    async def QueryAuditLog(
        self, request: pb.QueryAuditLogRequest, context: grpc.aio.ServicerContext
    ) -> pb.QueryAuditLogResponse:
        caller = await grpc_principal(self.authenticator, context)
        query = query_of(request.filter)
        size = page_size(request.page_size)
        page = await self.audit.page(caller, query, size, request.page_token)
        return page_response(page.entries, page.next_token)

    async def StreamAuditLog(
        self, request: pb.StreamAuditLogRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamAuditLogResponse]:
        # An async generator cannot use grpc_errors: errors are translated here.
        try:
            caller = await grpc_principal(self.authenticator, context)
            query = query_of(request.filter)
            size = page_size(request.page_size, MAX_PAGE)
            async for entries in await self.audit.export(caller, query, size, "grpc"):
                self.audit.metrics.exported.labels("grpc").inc(len(entries))
                yield pb.StreamAuditLogResponse(entries=page_response(entries, "").entries)
        except GRPC_MAPPED_ERRORS as exc:
            await context.abort(grpc_status_of(exc), str(exc))

    @grpc_errors
    async def GetAnnotationHistory(
        self, request: pb.GetAnnotationHistoryRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAnnotationHistoryResponse:
        caller = await grpc_principal(self.authenticator, context)
        histories = await self.audit.annotation_history(caller, request.item_id)
        return history_response(request.item_id, histories)

    @grpc_errors
    async def VerifyProject(
        self, request: pb.VerifyProjectRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifyProjectResponse:
        caller = await grpc_principal(self.authenticator, context)
        if not request.project_id:
            raise InvalidField("project_id", "is required")
        verification = await self.audit.verify_project(caller, request.project_id)
        return project_verification_response(verification)


def grpc_service(audit: SecuredAudit, authenticator: Authenticator) -> GrpcService:
    return GrpcService.of(
        AuditServicer(audit, authenticator),
        pb_grpc.add_AuditServiceServicer_to_server,
        pb.DESCRIPTOR,
        "AuditService",
    )
