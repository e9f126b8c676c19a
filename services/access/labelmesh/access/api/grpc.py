"""gRPC adapter of the access service."""

from __future__ import annotations

from datetime import UTC

import grpc

from labelmesh.access.usecases import Access, KeyRequest
from labelmesh.access.views import key_message, membership_message
from labelmesh.core.api import grpc_errors, grpc_principal
from labelmesh.core.authentication import Authenticator, grpc_credential, principal_message
from labelmesh.core.runner import GrpcService
from labelmesh.v1 import access_service_pb2 as pb
from labelmesh.v1 import access_service_pb2_grpc as pb_grpc


class AccessServicer(pb_grpc.AccessServiceServicer):
    def __init__(self, access: Access, authenticator: Authenticator) -> None:
        self.access = access
        self.authenticator = authenticator

    @grpc_errors
    async def WhoAmI(
        self, request: pb.WhoAmIRequest, context: grpc.aio.ServicerContext
    ) -> pb.WhoAmIResponse:
        # Other services ask this on every new credential; it carries the expiry they keep to.
        credential = grpc_credential(dict(context.invocation_metadata() or ()))
        found = await self.access.authenticate(credential)
        return pb.WhoAmIResponse(principal=principal_message(found.principal, found.expires_at))

    @grpc_errors
    async def CreateApiKey(
        self, request: pb.CreateApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateApiKeyResponse:
        caller = await grpc_principal(self.authenticator, context)
        key, secret = await self.access.create_key(
            caller,
            KeyRequest(
                subject=request.subject,
                name=request.name,
                project_ids=list(request.project_ids),
                expires_at=request.expires_at.ToDatetime(tzinfo=UTC)
                if request.HasField("expires_at")
                else None,
                service_account=request.service_account,
            ),
        )
        return pb.CreateApiKeyResponse(key=key_message(key), secret=secret)

    @grpc_errors
    async def ListApiKeys(
        self, request: pb.ListApiKeysRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListApiKeysResponse:
        caller = await grpc_principal(self.authenticator, context)
        keys = await self.access.list_keys(caller, request.include_inactive)
        return pb.ListApiKeysResponse(keys=[key_message(k) for k in keys])

    @grpc_errors
    async def RevokeApiKey(
        self, request: pb.RevokeApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.RevokeApiKeyResponse:
        caller = await grpc_principal(self.authenticator, context)
        return pb.RevokeApiKeyResponse(
            key=key_message(await self.access.revoke_key(caller, request.key_id))
        )

    @grpc_errors
    async def SetMembership(
        self, request: pb.SetMembershipRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetMembershipResponse:
        caller = await grpc_principal(self.authenticator, context)
        membership = await self.access.set_membership(
            caller, request.project_id, request.subject, list(request.roles), list(request.teams)
        )
        return pb.SetMembershipResponse(membership=membership_message(membership))

    @grpc_errors
    async def ListMemberships(
        self, request: pb.ListMembershipsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListMembershipsResponse:
        caller = await grpc_principal(self.authenticator, context)
        memberships = await self.access.list_memberships(caller, request.project_id)
        return pb.ListMembershipsResponse(memberships=[membership_message(m) for m in memberships])


def grpc_service(access: Access, authenticator: Authenticator) -> GrpcService:
    return GrpcService.of(
        AccessServicer(access, authenticator),
        pb_grpc.add_AccessServiceServicer_to_server,
        pb.DESCRIPTOR,
        "AccessService",
    )
