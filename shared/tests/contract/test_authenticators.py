"""The authenticator contract, against the in-memory stand-in and against the
access service itself (over gRPC, as every other service asks it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from labelmesh.core.authentication import Authenticator, RemoteAuthenticator
from labelmesh.core.errors import Unauthenticated
from labelmesh.testing.access import SessionAccess, StaticAuthenticator, principal
from labelmesh.v1.events_pb2 import Role

# Other tests on the session's access service give their subjects roles of their own.
SUBJECT = "authenticator-contract-ana"


@pytest.fixture(params=["static", pytest.param("access service", marks=pytest.mark.integration)])
async def known(
    request: pytest.FixtureRequest, access_service: SessionAccess
) -> AsyncIterator[tuple[Authenticator, str]]:
    """An authenticator and a credential it knows: ana, a reviewer in project p1."""
    if request.param == "static":
        credential = "ana-key"
        yield (
            StaticAuthenticator(
                {credential: principal(SUBJECT, Role.ROLE_REVIEWER, project_id="p1")}
            ),
            credential,
        )
        return
    credential = await access_service.credential(SUBJECT, Role.ROLE_REVIEWER, project_id="p1")
    remote = RemoteAuthenticator(access_service.target, ttl_seconds=5)
    yield remote, credential
    await remote.close()


async def test_a_known_credential_is_its_subject_with_its_roles(
    known: tuple[Authenticator, str],
) -> None:
    authenticator, credential = known
    ana = await authenticator.authenticate(credential)
    assert (ana.subject, ana.actor.id) == (SUBJECT, SUBJECT)
    assert ana.project_roles == {"p1": {Role.ROLE_REVIEWER}}
    assert ana.organization_roles == frozenset()
    assert await authenticator.authenticate(credential) == ana


async def test_an_unknown_credential_is_refused(known: tuple[Authenticator, str]) -> None:
    authenticator, credential = known
    for unknown in (credential + "x", "lm_0123456789abcdef_" + "A" * 43, "nonsense"):
        with pytest.raises(Unauthenticated):
            await authenticator.authenticate(unknown)
