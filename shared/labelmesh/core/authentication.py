"""Turning a request's credential into a `Principal`.

Every service but access asks the access service (`WhoAmI`), which holds the
keys and memberships, and keeps each answer for a few seconds: a revoked key
or a changed role takes effect within that time on every replica, and a busy
annotator costs one call per few seconds rather than one per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Mapping
from typing import Protocol

import grpc

from labelmesh.core.access import Principal, role_values
from labelmesh.core.errors import Unauthenticated, Unavailable
from labelmesh.v1 import access_service_pb2 as pb
from labelmesh.v1 import access_service_pb2_grpc as pb_grpc

AUTHORIZATION = "authorization"
BEARER = "bearer "
# Longest credential accepted: a JWT with many claims stays well below.
MAX_CREDENTIAL_CHARS = 8192


class Authenticator(Protocol):
    """Resolves a bearer credential (an API key or an OIDC token)."""

    async def authenticate(self, credential: str) -> Principal:
        """The caller `credential` stands for; raises Unauthenticated if it stands for none."""
        ...

    async def close(self) -> None:
        """Release connections; called once the service has stopped."""
        ...


def bearer_credential(authorization: str | None) -> str:
    """The credential of an `Authorization: Bearer <credential>` value; raises
    Unauthenticated when there is none."""
    if not authorization:
        raise Unauthenticated("no credential: send 'Authorization: Bearer <API key or token>'")
    if not authorization.lower().startswith(BEARER):
        raise Unauthenticated("the Authorization header must use the Bearer scheme")
    credential = authorization[len(BEARER) :].strip()
    if not credential or len(credential) > MAX_CREDENTIAL_CHARS:
        raise Unauthenticated("the bearer credential is empty or too long")
    return credential


def grpc_credential(metadata: Mapping[str, str | bytes]) -> str:
    """The bearer credential of a gRPC call's `authorization` metadata."""
    value = metadata.get(AUTHORIZATION)
    return bearer_credential(value.decode() if isinstance(value, bytes) else value)


def principal_of(message: pb.Principal) -> Principal:
    """The Principal a WhoAmI response carries."""
    return Principal(
        subject=message.subject,
        actor=message.actor,
        organization_id=message.organization_id,
        organization_roles=frozenset(message.organization_roles),
        project_roles={p.project_id: frozenset(p.roles) for p in message.project_roles},
        project_scope=frozenset(message.project_scope),
        key_id=message.key_id,
    )


def principal_message(principal: Principal, expires_at: float | None = None) -> pb.Principal:
    """The WhoAmI form of `principal`; `expires_at` in Unix seconds."""
    message = pb.Principal(
        subject=principal.subject,
        organization_id=principal.organization_id,
        organization_roles=role_values(principal.organization_roles),
        project_roles=[
            pb.ProjectRoles(project_id=project, roles=role_values(roles))
            for project, roles in sorted(principal.project_roles.items())
        ],
        project_scope=sorted(principal.project_scope),
        key_id=principal.key_id,
    )
    message.actor.CopyFrom(principal.actor)
    if expires_at is not None:
        message.expires_at.FromSeconds(int(expires_at))
    return message


class RemoteAuthenticator:
    """Asks the access service, and keeps each answer `ttl_seconds` (less when
    the credential expires sooner). Concurrent requests with one new
    credential share one call."""

    def __init__(
        self,
        target: str,
        ttl_seconds: float,
        timeout_seconds: float = 5.0,
        trusted_ca: bytes | None = None,
    ) -> None:
        self.target = target
        self.ttl_seconds = ttl_seconds
        self.timeout_seconds = timeout_seconds
        # With a CA certificate the channel is TLS, verified against it.
        self.trusted_ca = trusted_ca
        self._channel: grpc.aio.Channel | None = None
        self._answers: dict[bytes, tuple[float, Principal]] = {}
        self._asking: dict[bytes, asyncio.Future[Principal]] = {}

    async def authenticate(self, credential: str) -> Principal:
        key = hashlib.sha256(credential.encode()).digest()
        now = time.monotonic()
        kept = self._answers.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        if key in self._asking:
            return await asyncio.shield(self._asking[key])
        future: asyncio.Future[Principal] = asyncio.get_running_loop().create_future()
        self._asking[key] = future
        try:
            good_until, principal = await self._ask(credential)
            self._forget_expired(now)
            self._answers[key] = (min(now + self.ttl_seconds, good_until), principal)
            future.set_result(principal)
            return principal
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # marks it retrieved when nobody else waits
            raise
        finally:
            del self._asking[key]

    async def _ask(self, credential: str) -> tuple[float, Principal]:
        if self._channel is None:
            self._channel = (
                grpc.aio.insecure_channel(self.target)
                if self.trusted_ca is None
                else grpc.aio.secure_channel(
                    self.target, grpc.ssl_channel_credentials(self.trusted_ca)
                )
            )
        stub = pb_grpc.AccessServiceStub(self._channel)  # type: ignore[no-untyped-call]
        try:
            response = await stub.WhoAmI(
                pb.WhoAmIRequest(),
                metadata=[(AUTHORIZATION, f"Bearer {credential}")],
                timeout=self.timeout_seconds,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                raise Unauthenticated(exc.details() or "credential refused") from None
            raise Unavailable(f"the access service at {self.target}: {exc.code().name}") from None
        message = response.principal
        good_until = (
            time.monotonic() + (message.expires_at.seconds - time.time())
            if message.HasField("expires_at")
            else float("inf")
        )
        return good_until, principal_of(message)

    def _forget_expired(self, now: float) -> None:
        if len(self._answers) > 10_000:
            self._answers = {k: v for k, v in self._answers.items() if v[0] > now}

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
