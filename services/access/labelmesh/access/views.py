"""The access service's records as the messages its APIs and events carry."""

from __future__ import annotations

from labelmesh.access.records import MembershipRecord, StoredKey
from labelmesh.core.access import role_values
from labelmesh.v1.events_pb2 import ApiKey, Membership


def key_message(key: StoredKey) -> ApiKey:
    message = ApiKey(
        key_id=key.key_id,
        organization_id=key.organization_id,
        subject=key.subject,
        name=key.name,
        project_ids=key.project_ids,
        created_by=key.created_by,
        service_account=key.service_account,
    )
    message.created_at.FromDatetime(key.created_at)
    if key.expires_at is not None:
        message.expires_at.FromDatetime(key.expires_at)
    if key.revoked_at is not None:
        message.revoked_at.FromDatetime(key.revoked_at)
    return message


def membership_message(membership: MembershipRecord) -> Membership:
    return Membership(
        organization_id=membership.organization_id,
        project_id=membership.project_id,
        subject=membership.subject,
        roles=role_values(membership.roles),
        teams=membership.teams,
    )
