"""Keys, their states and principals, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from labelmesh.access.domain import (
    actor_of,
    invalid_roles,
    invalid_subject,
    key_refusal,
    new_key,
    parse_key,
    principal_of,
)
from labelmesh.access.hashing import KeyHasher
from labelmesh.access.records import MembershipRecord, StoredKey
from labelmesh.core.access import ProjectRef
from labelmesh.v1.events_pb2 import Actor, Role

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def key(**fields: object) -> StoredKey:
    values: dict[str, object] = {
        "key_id": "0123456789abcdef",
        "organization_id": "acme",
        "subject": "ana",
        "name": "laptop",
        "project_ids": (),
        "expires_at": None,
        "created_at": NOW,
        "created_by": "KIND_USER:admin",
        "revoked_at": None,
        "service_account": False,
        "secret_hash": "",
        **fields,
    }
    return StoredKey(**values)  # type: ignore[arg-type]


def test_a_new_key_parses_back_into_its_id_and_secret() -> None:
    made = new_key()
    assert made.credential.startswith(f"lm_{made.key_id}_")
    assert parse_key(made.credential) == made
    assert new_key() != made
    for malformed in ("", "lm_", made.credential + "x", "lm_XYZ_" + made.secret, "jwt.a.b"):
        assert parse_key(malformed) is None, malformed


def test_a_key_works_until_it_expires_or_is_revoked() -> None:
    assert key_refusal(key(), NOW) is None
    assert key_refusal(key(expires_at=NOW + timedelta(seconds=1)), NOW) is None
    assert key_refusal(key(expires_at=NOW), NOW) == "the API key expired"
    revoked = key(revoked_at=NOW - timedelta(days=1), expires_at=NOW - timedelta(days=2))
    assert key_refusal(revoked, NOW) == "the API key was revoked"


def test_the_principal_holds_the_roles_of_its_own_memberships_in_its_organisation() -> None:
    memberships = [
        MembershipRecord("acme", "", "ana", (Role.ROLE_REVIEWER,)),
        MembershipRecord("acme", "p1", "ana", (Role.ROLE_ANNOTATOR,)),
        MembershipRecord("acme", "p2", "bob", (Role.ROLE_MANAGER,)),
        MembershipRecord("other", "", "ana", (Role.ROLE_ADMIN,)),
    ]
    ana = principal_of("ana", actor_of("ana", False), "acme", memberships)
    assert ana.organization_roles == {Role.ROLE_REVIEWER}
    assert ana.roles_in(ProjectRef("p1", "acme")) == {Role.ROLE_ANNOTATOR, Role.ROLE_REVIEWER}
    assert ana.roles_in(ProjectRef("p2", "acme")) == {Role.ROLE_REVIEWER}
    assert ana.roles_in(ProjectRef("p1", "other")) == frozenset()
    scoped = principal_of("ana", actor_of("ana", False), "acme", memberships, ["p1"])
    assert scoped.roles_in(ProjectRef("p2", "acme")) == frozenset()
    assert scoped.organization_wide() == frozenset()


def test_people_act_as_users_and_service_accounts_as_keys() -> None:
    assert actor_of("ana", False) == Actor(kind=Actor.KIND_USER, id="ana")
    assert actor_of("nightly-import", True) == Actor(kind=Actor.KIND_API_KEY, id="nightly-import")


def test_subjects_and_roles_are_checked() -> None:
    assert invalid_subject("ana@example.com") is None
    for bad in ("", " ana", "a" * 201, "ana/../x"):
        assert invalid_subject(bad), bad
    assert invalid_roles([Role.ROLE_ADMIN, Role.ROLE_AUDITOR]) is None
    assert invalid_roles([Role.ROLE_UNSPECIFIED]) == "unknown role number(s) [0]"
    assert invalid_roles([99]) == "unknown role number(s) [99]"


def test_a_hash_matches_only_its_secret_and_only_with_its_pepper() -> None:
    hasher = KeyHasher("pepper")
    stored = hasher.hash("s3cret")
    assert stored.startswith("$argon2id$") and "s3cret" not in stored
    assert hasher.matches(stored, "s3cret")
    assert not hasher.matches(stored, "s3cret ")
    assert not KeyHasher("other pepper").matches(stored, "s3cret")
    assert not hasher.matches("not a hash", "s3cret")
