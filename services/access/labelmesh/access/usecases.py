"""What the access service does: check credentials, and manage keys and
memberships on behalf of admins, recording each change as an event."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from labelmesh.access.domain import (
    actor_of,
    invalid_roles,
    invalid_subject,
    invalid_teams,
    key_refusal,
    looks_like_key,
    new_key,
    parse_key,
    principal_of,
)
from labelmesh.access.hashing import KeyHasher
from labelmesh.access.metrics import AccessMetrics
from labelmesh.access.oidc import OidcVerifier
from labelmesh.access.ports import AccessRepository
from labelmesh.access.records import MembershipRecord, StoredKey
from labelmesh.access.views import key_message, membership_message
from labelmesh.core.access import (
    Permission,
    Principal,
    ProjectRef,
    authorize,
    authorize_organization,
    role_values,
)
from labelmesh.core.envelopes import new_envelope, service_actor
from labelmesh.core.errors import InvalidField, NotFound, Unauthenticated
from labelmesh.core.uow import Transaction, UnitOfWork
from labelmesh.v1.events_pb2 import (
    ApiKeyCreated,
    ApiKeyRevoked,
    Envelope,
    MembershipChanged,
    Role,
)

SERVICE = "access"
BOOTSTRAP_SUBJECT = "admin"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Authenticated:
    """A checked credential: who it is, and until when (Unix seconds) it works."""

    principal: Principal
    expires_at: float | None


@dataclass(frozen=True)
class KeyRequest:
    subject: str
    name: str
    project_ids: Sequence[str] = ()
    expires_at: datetime | None = None
    service_account: bool = False


@dataclass(eq=False)
class Access:
    repository: AccessRepository
    uow: UnitOfWork
    hasher: KeyHasher
    metrics: AccessMetrics
    organization: str
    oidc: OidcVerifier | None = None
    # (key id, SHA-256 of the secret) pairs that matched their argon2 hash:
    # the hash of a key never changes, so each pair is checked once.
    _matched: set[tuple[str, bytes]] = field(default_factory=set)

    async def authenticate(self, credential: str) -> Authenticated:
        """The caller of an API key or an OIDC token; raises Unauthenticated."""
        kind = "api_key" if looks_like_key(credential) else "oidc"
        try:
            if kind == "api_key":
                found = await self._by_key(credential)
            else:
                found = await self._by_token(credential)
        except Unauthenticated:
            self.metrics.authentications.labels(kind, "refused").inc()
            raise
        self.metrics.authentications.labels(kind, "ok").inc()
        return found

    async def _by_key(self, credential: str) -> Authenticated:
        parsed = parse_key(credential)
        if parsed is None:
            raise Unauthenticated("the API key is malformed")
        key = await self.repository.key(parsed.key_id)
        if key is None:
            raise Unauthenticated("the API key is not known")
        refusal = key_refusal(key, datetime.now(UTC))
        if refusal:
            raise Unauthenticated(refusal)
        pair = (key.key_id, hashlib.sha256(parsed.secret.encode()).digest())
        if pair not in self._matched:
            if not await asyncio.to_thread(self.hasher.matches, key.secret_hash, parsed.secret):
                raise Unauthenticated("the API key is not known")
            self._matched.add(pair)
        memberships = await self.repository.memberships_of(key.organization_id, key.subject)
        principal = principal_of(
            key.subject,
            actor_of(key.subject, key.service_account),
            key.organization_id,
            memberships,
            key.project_ids,
            key.key_id,
        )
        expires = key.expires_at.timestamp() if key.expires_at else None
        return Authenticated(principal, expires)

    async def _by_token(self, token: str) -> Authenticated:
        if self.oidc is None:
            raise Unauthenticated("not an API key, and OIDC tokens are not configured here")
        claims = await asyncio.to_thread(self.oidc.verify, token)
        memberships = await self.repository.memberships_of(self.organization, claims.subject)
        principal = principal_of(
            claims.subject, actor_of(claims.subject, False), self.organization, memberships
        )
        return Authenticated(principal, claims.expires_at)

    async def create_key(self, caller: Principal, request: KeyRequest) -> tuple[StoredKey, str]:
        """A new key for `request.subject` in the caller's organisation, and its
        credential, which is never stored or shown again."""
        authorize_organization(caller, Permission.MANAGE_ACCESS)
        _check_subject("subject", request.subject)
        if not request.name.strip() or len(request.name) > 200:
            raise InvalidField("name", "must be 1-200 characters")
        now = datetime.now(UTC)
        if request.expires_at is not None and request.expires_at <= now:
            raise InvalidField("expires_at", "must be in the future")
        made = new_key()
        secret_hash = await asyncio.to_thread(self.hasher.hash, made.secret)
        key = StoredKey(
            key_id=made.key_id,
            organization_id=caller.organization_id,
            subject=request.subject,
            name=request.name.strip(),
            project_ids=tuple(dict.fromkeys(request.project_ids)),
            expires_at=request.expires_at,
            created_at=now,
            created_by=caller.label,
            revoked_at=None,
            service_account=request.service_account,
            secret_hash=secret_hash,
        )

        async def work(tx: Transaction) -> None:
            await self.repository.add_key(tx, key)
            tx.emit(self._event(ApiKeyCreated(key=key_message(key)), caller))

        await self.uow.run(work)
        self.metrics.key_changes.labels("created").inc()
        return key, made.credential

    async def revoke_key(self, caller: Principal, key_id: str) -> StoredKey:
        """Revoke a key of the caller's organisation; revoking twice changes nothing."""
        authorize_organization(caller, Permission.MANAGE_ACCESS)

        async def work(tx: Transaction) -> StoredKey:
            key = await self.repository.key(key_id, tx)
            if key is None or key.organization_id != caller.organization_id:
                raise NotFound("API key", key_id)
            if key.revoked_at is not None:
                return key
            revoked = replace(key, revoked_at=datetime.now(UTC))
            await self.repository.save_key(tx, revoked)
            tx.emit(self._event(ApiKeyRevoked(key=key_message(revoked)), caller))
            return revoked

        key = await self.uow.run(work)
        self.metrics.key_changes.labels("revoked").inc()
        return key

    async def list_keys(self, caller: Principal, include_inactive: bool) -> list[StoredKey]:
        authorize_organization(caller, Permission.MANAGE_ACCESS)
        keys = await self.repository.keys(caller.organization_id)
        if include_inactive:
            return keys
        now = datetime.now(UTC)
        return [k for k in keys if key_refusal(k, now) is None]

    async def set_membership(
        self,
        caller: Principal,
        project_id: str,
        subject: str,
        roles: Sequence[int],
        teams: Sequence[str] = (),
    ) -> MembershipRecord:
        """Set `subject`'s roles and review teams in the caller's organisation
        (no project) or one of its projects; no roles removes the membership."""
        self._may_manage(caller, project_id)
        _check_subject("subject", subject)
        problem = invalid_roles(roles)
        if problem:
            raise InvalidField("roles", problem)
        problem = invalid_teams(teams, roles)
        if problem:
            raise InvalidField("teams", problem)
        membership = MembershipRecord(
            caller.organization_id,
            project_id,
            subject,
            tuple(sorted(set(roles))),
            tuple(sorted(set(teams))),
        )

        async def work(tx: Transaction) -> None:
            before = await self.repository.membership(
                tx, membership.organization_id, project_id, subject
            )
            previous = before or MembershipRecord(
                membership.organization_id, project_id, subject, ()
            )
            if (previous.roles, previous.teams) == (membership.roles, membership.teams):
                return
            await self.repository.save_membership(tx, membership)
            changed = MembershipChanged(
                membership=membership_message(membership),
                previous_roles=role_values(previous.roles),
                previous_teams=previous.teams,
            )
            tx.emit(self._event(changed, caller, project_id))

        await self.uow.run(work)
        self.metrics.membership_changes.inc()
        return membership

    async def list_memberships(self, caller: Principal, project_id: str) -> list[MembershipRecord]:
        if project_id:
            authorize(caller, Permission.CONFIGURE_PROJECT, self._project(caller, project_id))
        else:
            authorize_organization(caller, Permission.MANAGE_ACCESS)
        return await self.repository.memberships_in(caller.organization_id, project_id or None)

    async def bootstrap(self, key_file: Path) -> bool:
        """On a first start (no key at all), create an admin key and write it
        to `key_file`; returns whether it did."""
        if await self.repository.any_key() or await asyncio.to_thread(key_file.exists):
            return False
        first = Principal(
            subject=BOOTSTRAP_SUBJECT,
            actor=service_actor(SERVICE),
            organization_id=self.organization,
            organization_roles=frozenset({Role.ROLE_ADMIN}),
        )
        await self.set_membership(first, "", BOOTSTRAP_SUBJECT, [Role.ROLE_ADMIN])
        _, credential = await self.create_key(
            first, KeyRequest(subject=BOOTSTRAP_SUBJECT, name="first admin key")
        )
        await asyncio.to_thread(_write_secret, key_file, credential)
        log.info("created the first admin key; its secret is in %s", key_file)
        return True

    def _may_manage(self, caller: Principal, project_id: str) -> None:
        if project_id:
            authorize(caller, Permission.MANAGE_ACCESS, self._project(caller, project_id))
        else:
            authorize_organization(caller, Permission.MANAGE_ACCESS)

    def _project(self, caller: Principal, project_id: str) -> ProjectRef:
        # Memberships are held in the caller's organisation: a project of
        # another organisation never gains its roles.
        return ProjectRef(project_id, caller.organization_id)

    def _event(
        self,
        payload: ApiKeyCreated | ApiKeyRevoked | MembershipChanged,
        caller: Principal,
        project_id: str = "",
    ) -> Envelope:
        return new_envelope(payload, producer=SERVICE, actor=caller.actor, project_id=project_id)


def _write_secret(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(secret + "\n")


def _check_subject(field_name: str, subject: str) -> None:
    problem = invalid_subject(subject)
    if problem:
        raise InvalidField(field_name, problem)
