"""The audit service running in-process against the real broker and database:
events published on the topics end up in trails served over REST and gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import httpx
import pytest

from labelmesh.audit.adapters.repository import ENTRIES
from labelmesh.audit.app import AuditApp, build_app
from labelmesh.audit.config import AuditSettings
from labelmesh.core.api import rest_app
from labelmesh.core.config import CoreSettings
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.testing.access import SessionAccess, session_interceptor, session_signer
from labelmesh.testing.services import eventually, grpc_stub, served_app
from labelmesh.v1 import audit_service_pb2 as pb
from labelmesh.v1 import audit_service_pb2_grpc as pb_grpc
from labelmesh.v1.events_pb2 import (
    Envelope,
    IngestRejected,
    ItemIngested,
    ProjectCreated,
    ProjectSpec,
    Role,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def app(core_settings: CoreSettings) -> AsyncIterator[AuditApp]:
    async with served_app(build_app, AuditSettings, core_settings) as app:
        yield app


@pytest.fixture
async def project(app: AuditApp) -> str:
    """Project "p", whose creation the log holds: what tells the audit service
    which organisation's members may read the project's entries."""
    created = new_envelope(
        ProjectCreated(project=ProjectSpec(project_id="p")),
        producer="annotation",
        actor=user_actor("alice"),
        project_id="p",
    )
    await recorded(app, [created])
    return "p"


@pytest.fixture
async def rest(
    app: AuditApp, project: str, access_service: SessionAccess
) -> AsyncIterator[httpx.AsyncClient]:
    platform = app.service.platform
    api = rest_app("audit", app.service.router, platform.registry, {}, platform.authenticator)
    transport = httpx.ASGITransport(app=api)
    signer = session_signer(access_service, "auditor", Role.ROLE_AUDITOR)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://audit", event_hooks={"request": [signer]}
    ) as client:
        yield client


@pytest.fixture
async def stub(
    app: AuditApp, project: str, access_service: SessionAccess
) -> AsyncIterator[pb_grpc.AuditServiceStub]:
    [service] = app.service.grpc_services
    signer = session_interceptor(access_service, "auditor", Role.ROLE_AUDITOR)
    async with grpc_stub(service, pb_grpc.AuditServiceStub, [signer]) as stub:
        yield stub


def events_about(item_id: str) -> list[Envelope]:
    return [
        new_envelope(
            payload, producer="test", actor=user_actor("alice"), project_id="p", item_id=item_id
        )
        # One topic and one key: the consumer sees them in this order.
        for payload in (ItemIngested(text="a"), IngestRejected(field="text"))
    ]


async def recorded(app: AuditApp, events: list[Envelope]) -> None:
    """Publish events on the topics and wait until the consumer recorded them."""
    await app.service.platform.publisher.publish(events)
    entries = app.service.platform.db[ENTRIES]
    ids = [e.event_id for e in events]

    async def done() -> bool:
        return await entries.count_documents({"_id": {"$in": ids}}) == len(ids)

    await eventually(done, what="the audit entries")


async def test_published_events_form_a_trail_served_over_rest_and_grpc(
    app: AuditApp, rest: httpx.AsyncClient, stub: pb_grpc.AuditServiceStub
) -> None:
    events = events_about("i1")
    await recorded(app, events)

    body = (await rest.get("/v1/items/i1/trail")).json()
    assert body["item_id"] == "i1"
    assert [e["event_id"] for e in body["entries"]] == [e.event_id for e in events]
    assert [e["sequence"] for e in body["entries"]] == ["0", "1"]
    assert body["entries"][0]["actor"] == "KIND_USER:alice"
    assert body["entries"][1]["previous_hash"] == body["entries"][0]["hash"]
    verified = (await rest.get("/v1/items/i1/trail/verify")).json()
    assert verified == {"intact": True, "entries_checked": "2", "first_bad_sequence": "0"}

    trail = await stub.GetItemTrail(pb.GetItemTrailRequest(item_id="i1"))
    assert trail.item_id == "i1"
    assert [e.event_type for e in trail.entries] == [
        "labelmesh.v1.ItemIngested",
        "labelmesh.v1.IngestRejected",
    ]
    assert [e.hash for e in trail.entries] == [e["hash"] for e in body["entries"]]
    result = await stub.VerifyItemTrail(pb.VerifyItemTrailRequest(item_id="i1"))
    assert (result.intact, result.entries_checked) == (True, 2)


async def test_a_changed_entry_and_an_unknown_item_over_both_apis(
    app: AuditApp, rest: httpx.AsyncClient, stub: pb_grpc.AuditServiceStub
) -> None:
    events = events_about("i2")
    await recorded(app, events)
    await app.service.platform.db[ENTRIES].update_one(
        {"_id": events[1].event_id}, {"$set": {"envelope": b"forged"}}
    )
    verified = (await rest.get("/v1/items/i2/trail/verify")).json()
    assert verified == {"intact": False, "entries_checked": "2", "first_bad_sequence": "1"}
    result = await stub.VerifyItemTrail(pb.VerifyItemTrailRequest(item_id="i2"))
    assert (result.intact, result.first_bad_sequence) == (False, 1)

    assert (await rest.get("/v1/items/none/trail")).status_code == 404
    assert (await rest.get("/v1/items/none/trail/verify")).status_code == 404
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetItemTrail(pb.GetItemTrailRequest(item_id="none"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_replayed_fetch_appends_nothing(app: AuditApp) -> None:
    events = events_about("i3")
    await app.events.handle(events)
    await app.events.handle([*events, *events])
    assert [e.event_id for e in await app.audit.item_trail("i3")] == [e.event_id for e in events]


async def test_openapi_documents_the_proto_responses(rest: httpx.AsyncClient) -> None:
    document = (await rest.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert "labelmesh.v1.GetItemTrailResponse" in schemas
    assert "labelmesh.v1.VerifyItemTrailResponse" in schemas
    trail = document["paths"]["/v1/items/{item_id}/trail"]["get"]["responses"]["200"]
    assert trail["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/labelmesh.v1.GetItemTrailResponse"
    }
