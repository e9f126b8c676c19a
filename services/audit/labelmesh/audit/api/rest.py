"""REST adapter of the audit service: the proto-JSON of the gRPC responses."""

from __future__ import annotations

from fastapi import APIRouter

from labelmesh.audit.secured import SecuredAudit
from labelmesh.audit.views import trail_response, verification_response
from labelmesh.core.api import Caller
from labelmesh.core.rest_proto import ProtoJSON, proto_io
from labelmesh.v1 import audit_service_pb2 as pb


def router(audit: SecuredAudit) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["audit"])

    @api.get("/items/{item_id}/trail", **proto_io(response=pb.GetItemTrailResponse))
    async def item_trail(item_id: str, caller: Caller) -> ProtoJSON:
        return ProtoJSON(trail_response(item_id, await audit.item_trail(caller, item_id)))

    @api.get("/items/{item_id}/trail/verify", **proto_io(response=pb.VerifyItemTrailResponse))
    async def verify_trail(item_id: str, caller: Caller) -> ProtoJSON:
        return ProtoJSON(verification_response(await audit.verify_item(caller, item_id)))

    return api
