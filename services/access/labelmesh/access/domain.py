"""Keys, their states and the principal a credential stands for. Pure: no I/O."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from labelmesh.access.records import MembershipRecord, StoredKey
from labelmesh.core.access import Principal
from labelmesh.v1.events_pb2 import Actor, Role

KEY_PREFIX = "lm"
# lm_<16 hex key id>_<43 url-safe characters of secret>
KEY_PATTERN = re.compile(r"lm_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
# Subjects and names people type: letters, digits and a little punctuation.
SUBJECT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:+-]{0,199}")
VALID_ROLES = frozenset(Role.values()) - {Role.ROLE_UNSPECIFIED}
TEAM_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_TEAMS = 20


@dataclass(frozen=True)
class NewKey:
    """A freshly made key: the id, the secret, and the credential that joins them."""

    key_id: str
    secret: str

    @property
    def credential(self) -> str:
        return f"{KEY_PREFIX}_{self.key_id}_{self.secret}"


def new_key() -> NewKey:
    return NewKey(secrets.token_hex(8), secrets.token_urlsafe(32))


def parse_key(credential: str) -> NewKey | None:
    """The id and secret of an API key credential, or None if it is not one."""
    match = KEY_PATTERN.fullmatch(credential)
    return NewKey(match.group(1), match.group(2)) if match else None


def looks_like_key(credential: str) -> bool:
    return credential.startswith(f"{KEY_PREFIX}_")


def key_refusal(key: StoredKey, now: datetime) -> str | None:
    """Why `key` does not work at `now`, or None when it does."""
    if key.revoked_at is not None:
        return "the API key was revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "the API key expired"
    return None


def actor_of(subject: str, service_account: bool) -> Actor:
    """People act as users; service accounts as API keys, by their name."""
    kind = Actor.KIND_API_KEY if service_account else Actor.KIND_USER
    return Actor(kind=kind, id=subject)


def principal_of(
    subject: str,
    actor: Actor,
    organization_id: str,
    memberships: Iterable[MembershipRecord],
    project_scope: Iterable[str] = (),
    key_id: str = "",
) -> Principal:
    """The principal of `subject` in `organization_id`, with the roles of its memberships there."""
    organization_roles: set[int] = set()
    project_roles: dict[str, frozenset[int]] = {}
    for membership in memberships:
        if membership.organization_id != organization_id or membership.subject != subject:
            continue
        if membership.project_id:
            project_roles[membership.project_id] = frozenset(membership.roles)
        else:
            organization_roles.update(membership.roles)
    return Principal(
        subject=subject,
        actor=actor,
        organization_id=organization_id,
        organization_roles=frozenset(organization_roles),
        project_roles=project_roles,
        project_scope=frozenset(project_scope),
        key_id=key_id,
    )


def invalid_subject(subject: str) -> str | None:
    """Why `subject` cannot name a member or a key's owner, or None."""
    if not SUBJECT_PATTERN.fullmatch(subject):
        return "must be 1-200 letters, digits or ._@:+- and start with a letter or digit"
    return None


def invalid_roles(roles: Iterable[int]) -> str | None:
    """Why `roles` cannot be held, or None."""
    unknown = sorted(set(roles) - VALID_ROLES)
    return f"unknown role number(s) {unknown}" if unknown else None


def invalid_teams(teams: Sequence[str], roles: Sequence[int]) -> str | None:
    """Why `teams` cannot be held with `roles`, or None."""
    if teams and not roles:
        return "a membership without roles holds no teams"
    if len(teams) > MAX_TEAMS:
        return f"at most {MAX_TEAMS} teams"
    for index, team in enumerate(teams):
        if not TEAM_PATTERN.fullmatch(team):
            return f"teams[{index}]: {team!r} is not 1-64 letters, digits, '.', '_' or '-'"
    return None
