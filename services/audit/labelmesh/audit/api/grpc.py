"""gRPC adapter of the audit service."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from labelmesh.audit.usecases import MAX_PAGE, Audit, page_size
from labelmesh.audit.views import (
    history_response,
    page_response,
    project_verification_response,
    query_of,
    trail_response,
    verification_response,
)
from labelmesh.core.api import grpc_errors, grpc_status_of
from labelmesh.core.errors import InvalidField, NotFound
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

    @grpc_errors
    async def QueryAuditLog(
        self, request: pb.QueryAuditLogRequest, context: grpc.aio.ServicerContext
    ) -> pb.QueryAuditLogResponse:
        query = query_of(request.filter)
        page = await self.audit.page(query, page_size(request.page_size), request.page_token)
        return page_response(page.entries, page.next_token)

    async def StreamAuditLog(
        self, request: pb.StreamAuditLogRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamAuditLogResponse]:
        # An async generator cannot use grpc_errors: errors are translated here.
        try:
            query = query_of(request.filter)
            size = page_size(request.page_size, MAX_PAGE)
            async for entries in self.audit.stream(query, size):
                self.audit.metrics.exported.labels("grpc").inc(len(entries))
                yield pb.StreamAuditLogResponse(entries=page_response(entries, "").entries)
        except (InvalidField, NotFound) as exc:
            await context.abort(grpc_status_of(exc), str(exc))

    @grpc_errors
    async def GetAnnotationHistory(
        self, request: pb.GetAnnotationHistoryRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAnnotationHistoryResponse:
        histories = await self.audit.annotation_history(request.item_id)
        return history_response(request.item_id, histories)

    @grpc_errors
    async def VerifyProject(
        self, request: pb.VerifyProjectRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifyProjectResponse:
        if not request.project_id:
            raise InvalidField("project_id", "is required")
        return project_verification_response(await self.audit.verify_project(request.project_id))


def grpc_service(audit: Audit) -> GrpcService:
    return GrpcService.of(
        AuditServicer(audit),
        pb_grpc.add_AuditServiceServicer_to_server,
        pb.DESCRIPTOR,
        "AuditService",
    )
