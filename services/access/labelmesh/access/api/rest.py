"""REST adapter of the access service: the proto-JSON of the gRPC responses."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from labelmesh.access.usecases import Access, KeyRequest
from labelmesh.access.views import key_message, membership_message
from labelmesh.core.api import Caller
from labelmesh.core.authentication import principal_message
from labelmesh.core.rest_proto import ProtoJSON, proto_io
from labelmesh.v1 import access_service_pb2 as pb
from labelmesh.v1.events_pb2 import Role

MAX_ID = 200
RoleName = Literal[
    "ROLE_ADMIN",
    "ROLE_MANAGER",
    "ROLE_ANNOTATOR",
    "ROLE_REVIEWER",
    "ROLE_EXPERT",
    "ROLE_AUDITOR",
    "ROLE_INTEGRATION",
]


class ApiKeyRequest(BaseModel):
    subject: str = Field(min_length=1, max_length=MAX_ID)
    name: str = Field(min_length=1, max_length=MAX_ID)
    project_ids: list[str] = Field(default_factory=list, max_length=1000)
    expires_at: datetime | None = None
    service_account: bool = False


class MembershipRequest(BaseModel):
    project_id: str = Field(default="", max_length=MAX_ID)
    subject: str = Field(min_length=1, max_length=MAX_ID)
    roles: list[RoleName] = Field(max_length=7)
    teams: list[str] = Field(default_factory=list, max_length=20, examples=[["qa-berlin"]])


def router(access: Access) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["access"])

    @api.get("/whoami", **proto_io(response=pb.WhoAmIResponse))
    async def who_am_i(caller: Caller) -> ProtoJSON:
        return ProtoJSON(pb.WhoAmIResponse(principal=principal_message(caller)))

    @api.post("/api-keys", **proto_io(response=pb.CreateApiKeyResponse, status_code=201))
    async def create_key(request: ApiKeyRequest, caller: Caller) -> ProtoJSON:
        """The secret is in this response only."""
        key, secret = await access.create_key(
            caller,
            KeyRequest(
                subject=request.subject,
                name=request.name,
                project_ids=request.project_ids,
                expires_at=request.expires_at,
                service_account=request.service_account,
            ),
        )
        response = pb.CreateApiKeyResponse(key=key_message(key), secret=secret)
        return ProtoJSON(response, status_code=201)

    @api.get("/api-keys", **proto_io(response=pb.ListApiKeysResponse))
    async def list_keys(caller: Caller, include_inactive: bool = False) -> ProtoJSON:
        keys = await access.list_keys(caller, include_inactive)
        return ProtoJSON(pb.ListApiKeysResponse(keys=[key_message(k) for k in keys]))

    @api.post("/api-keys/{key_id}/revoke", **proto_io(response=pb.RevokeApiKeyResponse))
    async def revoke_key(key_id: str, caller: Caller) -> ProtoJSON:
        key = await access.revoke_key(caller, key_id)
        return ProtoJSON(pb.RevokeApiKeyResponse(key=key_message(key)))

    @api.put("/memberships", **proto_io(response=pb.SetMembershipResponse))
    async def set_membership(request: MembershipRequest, caller: Caller) -> ProtoJSON:
        """Empty `roles` removes the membership."""
        roles = [Role.Value(name) for name in request.roles]
        membership = await access.set_membership(
            caller, request.project_id, request.subject, roles, request.teams
        )
        return ProtoJSON(pb.SetMembershipResponse(membership=membership_message(membership)))

    @api.get("/memberships", **proto_io(response=pb.ListMembershipsResponse))
    async def list_memberships(caller: Caller, project_id: str = "") -> ProtoJSON:
        memberships = await access.list_memberships(caller, project_id)
        return ProtoJSON(
            pb.ListMembershipsResponse(memberships=[membership_message(m) for m in memberships])
        )

    return api
