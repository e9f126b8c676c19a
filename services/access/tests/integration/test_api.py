"""The access service running in-process against the real broker and database:
the first admin key, API keys over REST and gRPC, revocation reaching other
services, and OIDC tokens checked against a JWKS endpoint a fixture serves."""

from __future__ import annotations

import asyncio
import json
import stat
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from labelmesh.access.app import AccessApp, build_app
from labelmesh.access.config import AccessSettings
from labelmesh.core.api import rest_app
from labelmesh.core.authentication import RemoteAuthenticator
from labelmesh.core.config import CoreSettings
from labelmesh.core.errors import Unauthenticated
from labelmesh.core.outbox import stored_events
from labelmesh.devstack.processes import free_port
from labelmesh.testing.access import bearer, grpc_bearer
from labelmesh.testing.services import eventually, served_app
from labelmesh.v1 import access_service_pb2 as pb
from labelmesh.v1 import access_service_pb2_grpc as pb_grpc
from labelmesh.v1.events_pb2 import ApiKeyCreated, ApiKeyRevoked, MembershipChanged, Role

pytestmark = pytest.mark.integration
ISSUER = "https://login.example.test/"
AUDIENCE = "labelmesh"


class Jwks:
    """A real HTTP endpoint serving a key set that a test can rotate."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.fetches = 0
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.fetches += 1
                public = [
                    {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(k.public_key())), "kid": kid}
                    for kid, k in jwks.keys.items()
                ]
                body = json.dumps({"keys": public}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks.json"

    def rotate(self, kid: str) -> None:
        """Publish only a new key `kid`."""
        self.keys = {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048)}

    def token(self, kid: str, subject: str = "ana@example.test", **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        return jwt.encode(payload, self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    served = Jwks()
    served.rotate("k1")
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()


@pytest.fixture
async def app(core_settings: CoreSettings, jwks: Jwks, tmp_path: Path) -> AsyncIterator[AccessApp]:
    async with served_app(
        build_app,
        AccessSettings,
        core_settings,
        grpc_port=free_port(),
        bootstrap_key_file=tmp_path / "admin.key",
        key_pepper="test pepper",
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks_url=jwks.url,
        oidc_leeway_seconds=0,
        oidc_jwks_refetch_seconds=0,
    ) as app:
        yield app


@pytest.fixture
def admin_key(app: AccessApp, tmp_path: Path) -> str:
    return (tmp_path / "admin.key").read_text().strip()


@pytest.fixture
async def rest(app: AccessApp) -> AsyncIterator[httpx.AsyncClient]:
    platform = app.service.platform
    api = rest_app("access", app.service.router, platform.registry, {}, platform.authenticator)
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://access") as client:
        yield client


def target(app: AccessApp) -> str:
    return f"127.0.0.1:{app.service.settings.grpc_port}"


async def test_the_first_start_writes_one_admin_key_readable_by_its_owner_only(
    app: AccessApp, admin_key: str, rest: httpx.AsyncClient, tmp_path: Path
) -> None:
    key_file = tmp_path / "admin.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert admin_key.startswith("lm_")
    me = (await rest.get("/v1/whoami", headers=bearer(admin_key))).json()["principal"]
    assert (me["subject"], me["organization_roles"]) == ("admin", ["ROLE_ADMIN"])
    assert me["actor"] == {"kind": "KIND_USER", "id": "admin"}
    # A second start finds the key and makes no other.
    assert not await app.access.bootstrap(key_file)
    keys = (await rest.get("/v1/api-keys", headers=bearer(admin_key))).json()["keys"]
    assert len(keys) == 1


async def test_a_key_is_shown_once_works_and_stops_working_when_revoked_everywhere(
    app: AccessApp, admin_key: str, rest: httpx.AsyncClient
) -> None:
    admin = bearer(admin_key)
    member = await rest.put(
        "/v1/memberships",
        json={"project_id": "p1", "subject": "ana", "roles": ["ROLE_ANNOTATOR"]},
        headers=admin,
    )
    assert member.status_code == 200, member.text
    created = await rest.post(
        "/v1/api-keys", json={"subject": "ana", "name": "ana's laptop"}, headers=admin
    )
    assert created.status_code == 201, created.text
    secret, key_id = created.json()["secret"], created.json()["key"]["key_id"]
    listed = (await rest.get("/v1/api-keys", headers=admin)).text
    assert key_id in listed and secret not in listed and "argon2" not in listed

    # Another service, keeping answers for a short while.
    elsewhere = RemoteAuthenticator(target(app), ttl_seconds=0.5)
    ana = await elsewhere.authenticate(secret)
    assert (ana.subject, dict(ana.project_roles)) == ("ana", {"p1": {Role.ROLE_ANNOTATOR}})

    refused = await rest.post(
        "/v1/api-keys", json={"subject": "x", "name": "x"}, headers=bearer(secret)
    )
    assert refused.status_code == 403, refused.text
    revoked = await rest.post(f"/v1/api-keys/{key_id}/revoke", headers=admin)
    assert revoked.json()["key"]["revoked_at"]
    assert (await rest.get("/v1/whoami", headers=bearer(secret))).status_code == 401

    async def refused_elsewhere() -> bool:
        try:
            await elsewhere.authenticate(secret)
        except Unauthenticated:
            return True
        return False

    await eventually(refused_elsewhere, within=5, what="the revocation to reach other services")
    await elsewhere.close()

    events = await stored_events(app.service.platform.db)
    kinds = [e.WhichOneof("payload") for e in events]
    assert kinds.count("api_key_created") == 2 and kinds.count("api_key_revoked") == 1
    assert kinds.count("membership_changed") == 2  # the first admin's, then ana's
    created_event = next(
        e
        for e in events
        if e.HasField("api_key_created") and e.api_key_created.key.key_id == key_id
    )
    assert created_event.actor.id == "admin"
    assert secret.split("_")[2] not in created_event.SerializeToString().decode("latin-1")
    assert isinstance(created_event.api_key_created, ApiKeyCreated)
    assert any(isinstance(e.api_key_revoked, ApiKeyRevoked) for e in events)
    assert any(isinstance(e.membership_changed, MembershipChanged) for e in events)


async def test_a_membership_holds_review_teams_and_a_change_of_team_is_an_event(
    app: AccessApp, admin_key: str, rest: httpx.AsyncClient
) -> None:
    admin = bearer(admin_key)

    async def put(**body: object) -> httpx.Response:
        return await rest.put("/v1/memberships", json={"subject": "tom", **body}, headers=admin)

    reviewer = {"project_id": "p9", "roles": ["ROLE_REVIEWER"]}
    assert (await put(**reviewer, teams=["qa-berlin"])).status_code == 200
    moved = await put(**reviewer, teams=["qa-lisbon", "qa-berlin"])
    assert moved.json()["membership"]["teams"] == ["qa-berlin", "qa-lisbon"]
    for teams, problem in [(["no spaces"], "'no spaces' is not"), (["x"] * 21, "at most 20")]:
        refused = await put(**reviewer, teams=teams)
        assert refused.status_code == 422 and problem in refused.text, refused.text
    roleless = await put(project_id="p9", roles=[], teams=["qa-berlin"])
    assert roleless.json()["detail"][0]["field"] == "teams", roleless.text
    assert "without roles" in roleless.json()["detail"][0]["msg"]

    changes = [
        e.membership_changed
        for e in await stored_events(app.service.platform.db)
        if e.HasField("membership_changed") and e.membership_changed.membership.subject == "tom"
    ]
    assert [(list(c.previous_teams), list(c.membership.teams)) for c in changes] == [
        ([], ["qa-berlin"]),
        (["qa-berlin"], ["qa-berlin", "qa-lisbon"]),
    ]
    listed = (await rest.get("/v1/memberships", params={"project_id": "p9"}, headers=admin)).json()
    assert [m["teams"] for m in listed["memberships"] if m["subject"] == "tom"] == [
        ["qa-berlin", "qa-lisbon"]
    ]


async def test_an_expired_key_and_bad_requests_are_refused_over_grpc(
    app: AccessApp, admin_key: str
) -> None:
    async with grpc.aio.insecure_channel(target(app)) as channel:
        stub = pb_grpc.AccessServiceStub(channel)  # type: ignore[no-untyped-call]
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await stub.WhoAmI(pb.WhoAmIRequest())
        assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED

        request = pb.CreateApiKeyRequest(
            subject="nightly-import", name="nightly", service_account=True
        )
        request.expires_at.FromDatetime(datetime.now(UTC) + timedelta(seconds=2))
        created = await stub.CreateApiKey(request, metadata=grpc_bearer(admin_key))
        me = await stub.WhoAmI(pb.WhoAmIRequest(), metadata=grpc_bearer(created.secret))
        assert me.principal.actor.kind == me.principal.actor.KIND_API_KEY
        assert me.principal.expires_at.seconds == created.key.expires_at.seconds

        past = pb.CreateApiKeyRequest(subject="x", name="x")
        past.expires_at.FromDatetime(datetime.now(UTC) - timedelta(seconds=1))
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await stub.CreateApiKey(past, metadata=grpc_bearer(admin_key))
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (bad.value.details() or "").startswith("expires_at:")

        await asyncio.sleep(2.1)
        with pytest.raises(grpc.aio.AioRpcError) as expired:
            await stub.WhoAmI(pb.WhoAmIRequest(), metadata=grpc_bearer(created.secret))
        assert expired.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert expired.value.details() == "the API key expired"


async def test_oidc_tokens_are_checked_against_the_issuers_rotating_keys(
    app: AccessApp, admin_key: str, rest: httpx.AsyncClient, jwks: Jwks
) -> None:
    await rest.put(
        "/v1/memberships",
        json={"subject": "ana@example.test", "roles": ["ROLE_REVIEWER"]},
        headers=bearer(admin_key),
    )
    me = await rest.get("/v1/whoami", headers=bearer(jwks.token("k1")))
    assert me.status_code == 200, me.text
    assert me.json()["principal"]["organization_roles"] == ["ROLE_REVIEWER"]

    now = int(time.time())
    for claims, reason in [
        ({"aud": "someone-else"}, "audience"),
        ({"iss": "https://evil.example.test/"}, "issuer"),
        ({"exp": now - 10}, "expired"),
        ({"nbf": now + 600}, "not yet valid"),
    ]:
        refused = await rest.get("/v1/whoami", headers=bearer(jwks.token("k1", **claims)))
        assert refused.status_code == 401, claims
        assert reason in refused.json()["detail"].lower(), refused.json()

    fetches = jwks.fetches
    jwks.rotate("k2")
    rotated = await rest.get("/v1/whoami", headers=bearer(jwks.token("k2")))
    assert rotated.status_code == 200, rotated.text
    assert jwks.fetches == fetches + 1  # the unseen key id made it fetch the set again
    forged = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "ana@example.test", "exp": now + 300},
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": "k2"},
    )
    assert (await rest.get("/v1/whoami", headers=bearer(forged))).status_code == 401
