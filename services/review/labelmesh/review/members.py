"""Who may review: the project's memberships as review sees them.

The access service holds memberships; review keeps a copy of them from the
MembershipChanged events. A subject's roles and teams in a project are those
of their membership in the project joined with those of their membership in
its organisation.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from labelmesh.core.access import short_role_name
from labelmesh.review.records import MemberRecord
from labelmesh.v1.events_pb2 import Membership, ProjectMember


def member_record(membership: Membership, changed_at: datetime) -> MemberRecord:
    """`membership` as of `changed_at`, to the millisecond MongoDB keeps: events
    of one membership arrive in order, so of two in the same millisecond the
    later one wins."""
    return MemberRecord(
        organization_id=membership.organization_id,
        project_id=membership.project_id,
        subject=membership.subject,
        roles=tuple(sorted(short_role_name(role) for role in membership.roles)),
        teams=tuple(sorted(membership.teams)),
        changed_at=changed_at.replace(microsecond=changed_at.microsecond // 1000 * 1000),
    )


def project_members(records: Iterable[MemberRecord]) -> list[ProjectMember]:
    """Each subject's roles and teams across `records`, by subject; removed
    memberships count for nothing."""
    roles: dict[str, set[str]] = {}
    teams: dict[str, set[str]] = {}
    for record in records:
        if not record.roles:
            continue
        roles.setdefault(record.subject, set()).update(record.roles)
        teams.setdefault(record.subject, set()).update(record.teams)
    return [
        ProjectMember(user=subject, roles=sorted(roles[subject]), teams=sorted(teams[subject]))
        for subject in sorted(roles)
    ]


def same_members(first: Iterable[ProjectMember], second: Iterable[ProjectMember]) -> bool:
    """Whether both list the same users with the same roles and teams, in any order."""

    def table(members: Iterable[ProjectMember]) -> dict[str, tuple[set[str], set[str]]]:
        return {m.user: (set(m.roles), set(m.teams)) for m in members}

    return table(first) == table(second)
