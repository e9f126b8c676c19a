"""Credentials in tests: the real access service, run once per session, and
principals for unit tests that call the secured layer directly."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx

from labelmesh.access.app import AccessApp
from labelmesh.access.usecases import KeyRequest
from labelmesh.core.access import DEFAULT_ORGANIZATION, Principal
from labelmesh.core.envelopes import user_actor
from labelmesh.core.errors import Unauthenticated
from labelmesh.devstack.keys import ACTING_FIELDS, named_in_body
from labelmesh.v1.events_pb2 import Role

ADMIN = Principal(
    subject="test-admin",
    actor=user_actor("test-admin"),
    organization_id=DEFAULT_ORGANIZATION,
    organization_roles=frozenset({Role.ROLE_ADMIN}),
)


def principal(
    subject: str, *roles: int, project_id: str = "", organization: str = DEFAULT_ORGANIZATION
) -> Principal:
    """A caller holding `roles` organisation-wide, or in `project_id` only."""
    held = frozenset(roles)
    return Principal(
        subject=subject,
        actor=user_actor(subject),
        organization_id=organization,
        organization_roles=frozenset() if project_id else held,
        project_roles={project_id: held} if project_id else {},
    )


def bearer(credential: str) -> dict[str, str]:
    """The REST header that carries `credential`."""
    return {"Authorization": f"Bearer {credential}"}


def grpc_bearer(credential: str) -> list[tuple[str, str]]:
    """The gRPC metadata that carries `credential`."""
    return [("authorization", f"Bearer {credential}")]


@dataclass
class SessionAccess:
    """The access service of the test session, and API keys made on it."""

    app: AccessApp
    target: str
    _keys: dict[tuple[str, tuple[int, ...], str], str] = field(default_factory=dict)

    async def credential(self, subject: str, *roles: int, project_id: str = "") -> str:
        """An API key of `subject`, who holds `roles` organisation-wide (or in
        `project_id` only); the same key for the same request."""
        wanted = (subject, tuple(sorted(roles)), project_id)
        if wanted not in self._keys:
            access = self.app.access
            await access.set_membership(ADMIN, project_id, subject, list(roles))
            _, secret = await access.create_key(ADMIN, KeyRequest(subject=subject, name="test"))
            self._keys[wanted] = secret
        return self._keys[wanted]


class StaticAuthenticator:
    """Known credentials and their principals: the in-memory stand-in for the
    access service (the same contract test runs against both)."""

    def __init__(self, principals: Mapping[str, Principal]) -> None:
        self.principals = dict(principals)

    async def authenticate(self, credential: str) -> Principal:
        found = self.principals.get(credential)
        if found is None:
            raise Unauthenticated("the API key is not known")
        return found

    async def close(self) -> None:
        return None


def acting_subject(request: httpx.Request, default: str) -> str:
    """The person a request's JSON body names, else `default`: tests that predate
    authentication name annotators and reviewers there, and act as them."""
    return named_in_body(request) or default


def static_signer(
    authenticator: StaticAuthenticator, default: str = ADMIN.subject, *roles: int
) -> Callable[[httpx.Request], Awaitable[None]]:
    """An httpx request hook: each request carries the credential of the person
    its body names (else `default`), who holds `roles` (admin by default)."""
    held = roles or (Role.ROLE_ADMIN,)

    async def sign(request: httpx.Request) -> None:
        if "authorization" in request.headers:
            return
        subject = acting_subject(request, default)
        credential = f"test-key-{subject}"
        authenticator.principals.setdefault(credential, principal(subject, *held))
        request.headers["Authorization"] = f"Bearer {credential}"

    return sign


def session_signer(
    access: SessionAccess, default: str = ADMIN.subject, *roles: int
) -> Callable[[httpx.Request], Awaitable[None]]:
    """`static_signer` with real API keys of the session's access service."""
    held = roles or (Role.ROLE_ADMIN,)

    async def sign(request: httpx.Request) -> None:
        if "authorization" in request.headers:
            return
        credential = await access.credential(acting_subject(request, default), *held)
        request.headers["Authorization"] = f"Bearer {credential}"

    return sign


def message_subject(message: object, default: str) -> str:
    """The annotator or reviewer a gRPC request names, else `default`."""
    for name in ACTING_FIELDS:
        value = getattr(message, name, "")
        if isinstance(value, str) and value:
            return value
    return default


class _Signing:
    """Adds to each call the credential of the person its request names (else
    the default caller), as `session_signer` does for REST."""

    def __init__(self, credential_for: Callable[[str], Awaitable[str]], default: str) -> None:
        self.credential_for = credential_for
        self.default = default

    async def _signed(self, details: Any, request: object) -> Any:
        metadata = list(details.metadata or [])
        if not any(key == "authorization" for key, _ in metadata):
            credential = await self.credential_for(message_subject(request, self.default))
            metadata.append(("authorization", f"Bearer {credential}"))
        return details._replace(metadata=metadata)


# grpc.aio files an interceptor under the first kind it is: one class per kind.
class _SigningUnary(_Signing, grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(await self._signed(details, request), request)


class _SigningStream(_Signing, grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(await self._signed(details, request), request)


def session_interceptors(
    access: SessionAccess, default: str = ADMIN.subject, *roles: int
) -> list[grpc.aio.ClientInterceptor]:
    """Interceptors that sign unary and server-streaming calls with real keys."""
    held = roles or (Role.ROLE_ADMIN,)

    async def credential_for(subject: str) -> str:
        return await access.credential(subject, *held)

    return [_SigningUnary(credential_for, default), _SigningStream(credential_for, default)]
