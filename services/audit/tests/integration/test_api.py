"""The audit service running in-process against the real broker and database:
events published on the topics end up in trails served over REST and gRPC."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from labelmesh.audit.adapters.repository import ENTRIES
from labelmesh.audit.app import AuditApp, build_app
from labelmesh.audit.config import AuditSettings
from labelmesh.core.api import rest_app
from labelmesh.core.config import CoreSettings
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.testing.access import SessionAccess, session_interceptors, session_signer
from labelmesh.testing.services import eventually, grpc_stub, served_app
from labelmesh.v1 import audit_service_pb2 as pb
from labelmesh.v1 import audit_service_pb2_grpc as pb_grpc
from labelmesh.v1.events_pb2 import (
    AnnotationSubmitted,
    Envelope,
    IngestRejected,
    ItemIngested,
    ProjectCreated,
    ProjectSpec,
    Role,
)
from labelmesh.v1.geometry_pb2 import Classification, Label

pytestmark = pytest.mark.integration


@pytest.fixture
async def app(core_settings: CoreSettings) -> AsyncIterator[AuditApp]:
    async with served_app(build_app, AuditSettings, core_settings) as app:
        yield app


PROJECTS = ("p", "qp", "xp", "vp", "hp")


@pytest.fixture
async def project(app: AuditApp) -> dict[str, str]:
    """The tests' projects, whose creation the log holds (what tells the audit
    service which organisation's members may read a project's entries), with
    the event id of each one's creation."""
    created = [
        new_envelope(
            ProjectCreated(project=ProjectSpec(project_id=project_id)),
            producer="annotation",
            actor=user_actor("alice"),
            project_id=project_id,
        )
        for project_id in PROJECTS
    ]
    await recorded(app, created)
    return {e.project_id: e.event_id for e in created}


@pytest.fixture
async def rest(
    app: AuditApp, project: dict[str, str], access_service: SessionAccess
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
    app: AuditApp, project: dict[str, str], access_service: SessionAccess
) -> AsyncIterator[pb_grpc.AuditServiceStub]:
    [service] = app.service.grpc_services
    signers = session_interceptors(access_service, "auditor", Role.ROLE_AUDITOR)
    async with grpc_stub(service, pb_grpc.AuditServiceStub, signers) as stub:
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


def project_events(count: int, project_id: str = "qp") -> list[Envelope]:
    events = []
    for n in range(count):
        payload = ItemIngested(text=str(n)) if n % 2 else IngestRejected(field="text")
        actor = user_actor("bob" if n % 3 == 0 else "alice")
        envelope = new_envelope(
            payload, producer="test", actor=actor, project_id=project_id, item_id=f"q{n % 4}"
        )
        envelope.occurred_at.FromDatetime(T0 + timedelta(seconds=n))
        events.append(envelope)
    return events


T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def test_the_log_is_queried_by_filter_and_page_over_rest_and_grpc(
    app: AuditApp,
    rest: httpx.AsyncClient,
    stub: pb_grpc.AuditServiceStub,
    project: dict[str, str],
) -> None:
    events = project_events(12)
    await app.events.handle(events)
    ids = [e.event_id for e in events]

    seen, read, token = [], [], ""
    while True:
        params = {"project_id": "qp", "page_size": "5", "page_token": token}
        body = (await rest.get("/v1/audit/entries", params=params)).json()
        read += body["entries"]
        seen += [e["event_id"] for e in body["entries"]]
        token = body["next_page_token"]
        if not token:
            break
    # The project's creation was recorded now, after the events' times.
    assert seen == [*ids, project["qp"]]
    last_item_event = next(e for e in reversed(read) if e["item_id"])
    assert (last_item_event["project_id"], last_item_event["item_id"]) == ("qp", "q3")

    params = {"project_id": "qp", "actor": "KIND_USER:bob", "event_type": "ItemIngested"}
    body = (await rest.get("/v1/audit/entries", params=params)).json()
    assert [e["event_id"] for e in body["entries"]] == [ids[3], ids[9]]
    two_types = [("project_id", "qp"), ("event_type", "ItemIngested")]
    two_types += [("event_type", "labelmesh.v1.IngestRejected")]
    two_types += [("from", (T0 + timedelta(seconds=2)).isoformat()), ("to", "2026-11-30T12:00:05")]
    body = (await rest.get("/v1/audit/entries", params=two_types)).json()
    assert [e["event_id"] for e in body["entries"]] == ids[2:5]

    request = pb.QueryAuditLogRequest(
        filter=pb.AuditFilter(project_id="qp", item_id="q1"), page_size=2
    )
    page = await stub.QueryAuditLog(request)
    assert [e.event_id for e in page.entries] == [ids[1], ids[5]] and page.next_page_token
    streamed = stub.StreamAuditLog(
        pb.StreamAuditLogRequest(filter=pb.AuditFilter(project_id="qp"), page_size=5)
    )
    streamed_ids = [e.event_id async for batch in streamed for e in batch.entries]
    assert streamed_ids == [*ids, project["qp"]]


async def test_bad_filters_name_their_field(
    app: AuditApp, rest: httpx.AsyncClient, stub: pb_grpc.AuditServiceStub
) -> None:
    for params, field in (
        ({}, "project_id"),
        ({"project_id": "p", "event_type": "Nope"}, "event_type"),
        ({"project_id": "p", "from": "yesterday"}, "from"),
        ({"project_id": "p", "from": "0001-01-01T00:00:00+05:00"}, "from"),
        ({"project_id": "p", "to": "9999-12-31T23:59:59-05:00"}, "to"),
        ({"project_id": "p", "from": "2026-01-02", "to": "2026-01-01"}, "to"),
        ({"project_id": "p", "page_size": "5000"}, "page_size"),
        ({"project_id": "p", "page_token": "garbage"}, "page_token"),
    ):
        response = await rest.get("/v1/audit/entries", params=params)
        assert response.status_code == 422, params
        assert response.json()["detail"][0]["field"] == field, params
    assert (await rest.get("/v1/audit/export", params={"format": "csv"})).status_code == 422
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.QueryAuditLog(pb.QueryAuditLogRequest(page_size=5000))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    beyond = pb.AuditFilter(project_id="p")
    beyond.occurred_to.seconds = 2**40
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.QueryAuditLog(pb.QueryAuditLogRequest(filter=beyond))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "occurred_to" in (refused.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        async for _ in stub.StreamAuditLog(pb.StreamAuditLogRequest()):
            pass
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def export_records(app: AuditApp, project_id: str, count: int) -> list[Envelope]:
    """The project's first `count` AuditLogExported events, once the log holds them."""
    entries = app.service.platform.db[ENTRIES]
    wanted = {"project_id": project_id, "event_type": "labelmesh.v1.AuditLogExported"}

    async def found() -> bool:
        return await entries.count_documents(wanted) >= count

    await eventually(found, what=f"{count} export records")
    documents = await entries.find(wanted).sort("occurred_at", 1).to_list()
    return [Envelope.FromString(bytes(d["envelope"])) for d in documents[:count]]


async def test_exports_stream_jsonl_and_csv_and_each_is_in_the_log(
    app: AuditApp, rest: httpx.AsyncClient, stub: pb_grpc.AuditServiceStub, project: dict[str, str]
) -> None:
    events = project_events(7, "xp")
    await app.events.handle(events)
    since = T0 + timedelta(seconds=1)
    jsonl = await rest.get("/v1/audit/export", params={"project_id": "xp"})
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in jsonl.text.splitlines()]
    exported_ids = [*(e.event_id for e in events), project["xp"]]
    assert [line["event_id"] for line in lines] == exported_ids

    # Each export is recorded, and later exports hold the records of earlier ones.
    [after_jsonl] = await export_records(app, "xp", 1)
    exported_ids.append(after_jsonl.event_id)
    exported = await rest.get("/v1/audit/export", params={"project_id": "xp", "format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["event_id"] for r in rows] == exported_ids
    assert rows[0]["project_id"] == "xp" and rows[0]["actor"] == "KIND_USER:bob"
    await export_records(app, "xp", 2)
    streamed = stub.StreamAuditLog(
        pb.StreamAuditLogRequest(
            filter=pb.AuditFilter(
                project_id="xp", actor="KIND_USER:alice", occurred_from=Timestamp(seconds=0)
            ),
            page_size=2,
        )
    )
    # alice's four events, and the project's creation
    assert len([e async for batch in streamed for e in batch.entries]) == 5
    windowed = await rest.get(
        "/v1/audit/export",
        params={"project_id": "xp", "event_type": "ItemIngested", "from": since.isoformat()},
    )
    assert len(windowed.text.splitlines()) == 3

    records = await export_records(app, "xp", 4)
    assert {r.actor.id for r in records} == {"auditor"}
    assert [(r.audit_log_exported.format, r.audit_log_exported.entries) for r in records] == [
        ("jsonl", 8),
        ("csv", 9),
        ("grpc", 5),
        ("jsonl", 3),
    ]
    assert all(r.audit_log_exported.complete for r in records)
    filtered = [r.audit_log_exported for r in records[2:]]
    assert filtered[0].actor == "KIND_USER:alice" and filtered[0].HasField("occurred_from")
    assert list(filtered[1].event_types) == ["labelmesh.v1.ItemIngested"]
    assert filtered[1].occurred_from.ToDatetime(tzinfo=UTC) == since
    assert not filtered[1].HasField("occurred_to")


async def test_annotation_history_over_rest_and_grpc(
    app: AuditApp, rest: httpx.AsyncClient, stub: pb_grpc.AuditServiceStub
) -> None:
    def labels(*names: str) -> list[Label]:
        return [Label(classification=Classification(label=n)) for n in names]

    submissions = [
        new_envelope(
            AnnotationSubmitted(task_id="t1", labels=labels(*names)),
            producer="annotation",
            actor=user_actor(who),
            project_id="hp",
            item_id="h1",
        )
        for who, names in (("ann", ("cat",)), ("fixer", ("cat", "dog")))
    ]
    await app.events.handle(submissions)
    body = (await rest.get("/v1/items/h1/annotations/history")).json()
    [history] = body["annotations"]
    assert history["key"] == "task:t1"
    assert [v["actor"] for v in history["versions"]] == ["KIND_USER:ann", "KIND_USER:fixer"]
    assert history["versions"][1]["diff"]["added"] == [
        {"classification": {"label": "dog"}, "confidence": 0.0}
    ]
    reply = await stub.GetAnnotationHistory(pb.GetAnnotationHistoryRequest(item_id="h1"))
    assert [v.version for v in reply.annotations[0].versions] == [1, 2]
    assert (await rest.get("/v1/items/none/annotations/history")).status_code == 404


async def test_a_project_is_checkpointed_and_verified_over_rest_and_grpc(
    app: AuditApp, rest: httpx.AsyncClient, stub: pb_grpc.AuditServiceStub
) -> None:
    await app.events.handle(project_events(6, "vp"))
    assert len(await app.audit.checkpoint_all(app.service.platform.uow)) >= 1
    body = (await rest.get("/v1/projects/vp/audit/verify")).json()
    assert body["intact"] is True and body["problems"] == []
    # The project's own chain (its creation) and its four items' chains.
    assert (body["chains_checked"], body["entries_checked"]) == ("5", "7")
    reply = await stub.VerifyProject(pb.VerifyProjectRequest(project_id="vp"))
    assert reply.intact and reply.checkpoints_checked >= 1 and reply.checkpoint_hash
    assert (await rest.get("/v1/projects/none/audit/verify")).status_code == 404
