"""What the access service stores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class StoredKey:
    """An API key: its argon2 hash, never its secret."""

    key_id: str
    organization_id: str
    subject: str
    name: str
    project_ids: tuple[str, ...]
    expires_at: datetime | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    service_account: bool
    secret_hash: str


@dataclass(frozen=True)
class MembershipRecord:
    """A subject's roles in an organisation (`project_id` empty) or one of its projects."""

    organization_id: str
    project_id: str
    subject: str
    roles: tuple[int, ...]
    teams: tuple[str, ...] = ()

    @property
    def membership_id(self) -> str:
        return membership_id(self.organization_id, self.project_id, self.subject)


def membership_id(organization_id: str, project_id: str, subject: str) -> str:
    return f"{organization_id}/{project_id}/{subject}"
