"""gRPC adapter of the audit service."""

from __future__ import annotations

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from labelmesh.audit.usecases import Audit
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
        response = pb.GetItemTrailResponse()
        for e in await self.audit.item_trail(request.item_id):
            occurred_at = Timestamp()
            occurred_at.FromDatetime(e["occurred_at"])
            response.entries.append(
                pb.AuditEntry(
                    sequence=e["sequence"],
                    event_id=e["_id"],
                    event_type=e["event_type"],
                    producer=e["producer"],
                    actor=e["actor"],
                    occurred_at=occurred_at,
                    previous_hash=e["previous_hash"],
                    hash=e["hash"],
                    trace_id=e["trace_id"],
                )
            )
        return response

    @grpc_errors
    async def VerifyItemTrail(
        self, request: pb.VerifyItemTrailRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifyItemTrailResponse:
        result = await self.audit.verify_item(request.item_id)
        return pb.VerifyItemTrailResponse(
            intact=result.intact,
            entries_checked=result.checked,
            first_bad_sequence=result.first_bad_sequence or 0,
        )


def grpc_service(audit: Audit) -> GrpcService:
    return GrpcService(
        servicer=AuditServicer(audit),
        add_to_server=pb_grpc.add_AuditServiceServicer_to_server,
        full_name=pb.DESCRIPTOR.services_by_name["AuditService"].full_name,
    )
