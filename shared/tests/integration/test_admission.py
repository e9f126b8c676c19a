"""Admission control of a running service (the shared runner, real REST and
gRPC servers): shedding past the in-flight limit, exempt probes, deadlines,
and cancellation when the caller goes away."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest
from fastapi import APIRouter
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pymongo import AsyncMongoClient, monitoring

from labelmesh.core.config import CoreSettings, ServiceSettings
from labelmesh.core.platform import Platform
from labelmesh.core.runner import GrpcService, ServiceDefinition, serve
from labelmesh.devstack.processes import free_port
from labelmesh.testing.services import eventually
from labelmesh.v1 import audit_service_pb2 as audit_pb
from labelmesh.v1 import audit_service_pb2_grpc as audit_grpc
from labelmesh.v1 import ingest_service_pb2 as ingest_pb
from labelmesh.v1 import ingest_service_pb2_grpc as ingest_grpc

pytestmark = pytest.mark.integration
SERVICE = "gatetest"


class Held:
    """Work that stays in progress until released, and says whether it was cancelled."""

    def __init__(self) -> None:
        self.entered = 0
        self.cancelled = 0
        self.release = asyncio.Event()

    async def hold(self) -> None:
        self.entered += 1
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


class HeldAudit(audit_grpc.AuditServiceServicer):
    def __init__(self, held: Held) -> None:
        self.held = held

    async def GetItemTrail(
        self, request: audit_pb.GetItemTrailRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb.GetItemTrailResponse:
        await self.held.hold()
        return audit_pb.GetItemTrailResponse(item_id=request.item_id)


class CountingStream(ingest_grpc.IngestServiceServicer):
    async def UploadItemStream(
        self, request_iterator: AsyncIterator[Any], context: grpc.aio.ServicerContext
    ) -> ingest_pb.UploadItemStreamResponse:
        response = ingest_pb.UploadItemStreamResponse()
        async for _ in request_iterator:
            response.results.add()
        return response


@dataclass
class Running:
    rest: httpx.AsyncClient
    channel: grpc.aio.Channel
    held: Held
    database_commands: list[dict[str, Any]]
    stop: asyncio.Event
    serving: asyncio.Task[None]
    background_work: list[asyncio.Task[None]]

    @property
    def audit(self) -> audit_grpc.AuditServiceStub:
        return audit_grpc.AuditServiceStub(self.channel)  # type: ignore[no-untyped-call]

    async def metric(self, name: str, api: str | None = None) -> float:
        labels = "" if api is None else f'{{api="{api}"}}'
        text = (await self.rest.get("/metrics")).text
        for line in text.splitlines():
            if line.startswith(f"labelmesh_{SERVICE}_{name}{labels} "):
                return float(line.split()[-1])
        return 0.0

    async def hold_rest(self) -> asyncio.Task[httpx.Response]:
        before = self.held.entered
        task = asyncio.create_task(self.rest.get("/held"))
        await eventually(self._entered(before), within=10, what="a held REST request")
        return task

    async def hold_grpc(self) -> Any:
        before = self.held.entered
        call = self.audit.GetItemTrail(audit_pb.GetItemTrailRequest(item_id="i"))
        await eventually(self._entered(before), within=10, what="a held gRPC call")
        return call

    def _entered(self, before: int) -> Any:
        async def entered() -> bool:
            return self.held.entered > before

        return entered


class CommandLog(monitoring.CommandListener):
    def __init__(self, commands: list[dict[str, Any]]) -> None:
        self.commands = commands

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@contextlib.asynccontextmanager
async def running(core: CoreSettings, **limits: Any) -> AsyncIterator[Running]:
    """A service with a held endpoint on both APIs, under the given admission settings."""
    settings = ServiceSettings(
        **{
            **core.model_dump(),
            "rest_port": free_port(),
            "grpc_port": free_port(),
            "retry_after_seconds": 3,
            "admission_wait_seconds": 0.01,
            **limits,
        }
    )
    held = Held()
    commands: list[dict[str, Any]] = []
    background_work: list[asyncio.Task[None]] = []
    observed: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        core.mongo_uri, event_listeners=[CommandLog(commands)]
    )
    router = APIRouter()

    @router.get("/held")
    async def hold() -> dict[str, bool]:
        await held.hold()
        return {"released": True}

    @router.get("/fast")
    async def fast() -> dict[str, bool]:
        return {"ok": True}

    things = observed[core.mongo_database]["things"]

    @router.get("/database")
    async def database() -> dict[str, bool]:
        await things.find_one({"_id": "x"})
        return {"ok": True}

    async def later() -> None:
        await asyncio.sleep(1)
        await things.find_one({"_id": "later"})

    @router.get("/background")
    async def background() -> dict[str, bool]:
        background_work.append(asyncio.create_task(later()))
        return {"ok": True}

    service = ServiceDefinition(
        platform=Platform(SERVICE, settings),
        router=router,
        grpc_services=[
            GrpcService.of(
                HeldAudit(held),
                audit_grpc.add_AuditServiceServicer_to_server,
                audit_pb.DESCRIPTOR,
                "AuditService",
            ),
            GrpcService.of(
                CountingStream(),
                ingest_grpc.add_IngestServiceServicer_to_server,
                ingest_pb.DESCRIPTOR,
                "IngestService",
            ),
        ],
    )
    stop, started = asyncio.Event(), asyncio.Event()
    serving = asyncio.create_task(serve(service, stop, started))
    await asyncio.wait(
        [serving, asyncio.create_task(started.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    if serving.done():
        serving.result()
    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.rest_port}", timeout=30) as rest,
        grpc.aio.insecure_channel(f"127.0.0.1:{settings.grpc_port}") as channel,
    ):
        try:
            yield Running(rest, channel, held, commands, stop, serving, background_work)
        finally:
            held.release.set()
            stop.set()
            await asyncio.wait_for(serving, 30)
            await observed.close()


async def test_past_the_limit_rest_answers_429_with_retry_after(
    core_settings: CoreSettings,
) -> None:
    async with running(core_settings, max_requests_in_flight=2) as service:
        held = [await service.hold_rest(), await service.hold_rest()]

        shed = await service.rest.get("/fast")

        assert shed.status_code == 429
        assert shed.headers["retry-after"] == "3"
        body = shed.json()
        assert body["reason"] == "overloaded"
        assert "limit of 2 requests in flight" in body["detail"]
        assert await service.metric("requests_shed_total", "rest") == 1
        assert await service.metric("requests_in_flight") == 2
        service.held.release.set()
        assert [(await r).status_code for r in held] == [200, 200]
        assert (await service.rest.get("/fast")).status_code == 200


async def test_past_the_limit_grpc_answers_resource_exhausted_with_retry_after(
    core_settings: CoreSettings,
) -> None:
    async with running(core_settings, max_requests_in_flight=2) as service:
        # REST and gRPC share the service's slots.
        held_rest, held_grpc = await service.hold_rest(), await service.hold_grpc()

        with pytest.raises(grpc.aio.AioRpcError) as shed:
            await service.audit.GetItemTrail(audit_pb.GetItemTrailRequest(item_id="j"))

        assert shed.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        trailers = dict(shed.value.trailing_metadata() or ())
        assert trailers["retry-after"] == "3"
        assert trailers["grpc-retry-pushback-ms"] == "3000"
        assert await service.metric("requests_shed_total", "grpc") == 1
        service.held.release.set()
        assert (await held_rest).status_code == 200
        assert (await held_grpc).item_id == "i"


async def test_probes_answer_while_the_service_is_saturated(
    core_settings: CoreSettings,
) -> None:
    async with running(core_settings, max_requests_in_flight=1) as service:
        await service.hold_rest()
        assert (await service.rest.get("/fast")).status_code == 429

        for probe in ("/healthz", "/readyz", "/metrics"):
            assert (await service.rest.get(probe)).status_code == 200, probe
        health = health_pb2_grpc.HealthStub(service.channel)
        answer = await health.Check(health_pb2.HealthCheckRequest(service=""))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_request_past_its_deadline_is_answered_and_its_work_cancelled(
    core_settings: CoreSettings,
) -> None:
    async with running(
        core_settings, max_requests_in_flight=1, request_deadline_seconds=0.5
    ) as service:
        expired = await service.rest.get("/held")

        assert expired.status_code == 504
        assert expired.json()["reason"] == "deadline_exceeded"
        assert expired.headers["retry-after"] == "3"
        assert service.held.cancelled == 1
        # Its slot is free again.
        assert (await service.rest.get("/fast")).status_code == 200

        with pytest.raises(grpc.aio.AioRpcError) as call:
            await service.audit.GetItemTrail(audit_pb.GetItemTrailRequest(item_id="i"))
        assert call.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert service.held.cancelled == 2
        assert await service.metric("request_deadline_exceeded_total", "rest") == 1
        assert await service.metric("request_deadline_exceeded_total", "grpc") == 1


async def test_a_request_s_database_commands_carry_the_time_it_has_left(
    core_settings: CoreSettings,
) -> None:
    async with running(core_settings, request_deadline_seconds=4) as service:
        assert (await service.rest.get("/database")).status_code == 200

        finds = [c for c in service.database_commands if "find" in c]
        assert finds
        assert 0 < finds[-1]["maxTimeMS"] <= 4000


async def test_a_task_a_request_starts_does_not_inherit_its_database_deadline(
    core_settings: CoreSettings,
) -> None:
    # A shared worker (a group-commit writer) may be started by one request and
    # outlive it, working for the requests after it.
    async with running(core_settings, request_deadline_seconds=0.5) as service:
        assert (await service.rest.get("/background")).status_code == 200

        await asyncio.gather(*service.background_work)  # past the request's deadline

        later = [c for c in service.database_commands if c.get("filter") == {"_id": "later"}]
        assert later
        assert "maxTimeMS" not in later[0]


async def test_a_caller_that_goes_away_has_its_work_cancelled(
    core_settings: CoreSettings,
) -> None:
    async with running(core_settings, request_deadline_seconds=30) as service:
        with pytest.raises(httpx.ReadTimeout):
            await service.rest.get("/held", timeout=0.5)
        await eventually(lambda: _true(service.held.cancelled == 1), within=10, what="cancel")

        call = await service.hold_grpc()
        call.cancel()
        await eventually(lambda: _true(service.held.cancelled == 2), within=10, what="cancel")

        assert await service.metric("requests_cancelled_total", "rest") == 1
        assert await service.metric("requests_cancelled_total", "grpc") == 1
        assert await service.metric("requests_in_flight") == 0


async def test_a_stream_that_keeps_moving_outlives_the_deadline_one_that_stalls_does_not(
    core_settings: CoreSettings,
) -> None:
    async with running(core_settings, request_deadline_seconds=1) as service:
        stub = ingest_grpc.IngestServiceStub(service.channel)  # type: ignore[no-untyped-call]

        async def moving() -> AsyncIterator[ingest_pb.UploadItemStreamRequest]:
            for _ in range(8):
                await asyncio.sleep(0.2)
                yield ingest_pb.UploadItemStreamRequest(project_id="p")

        assert len((await stub.UploadItemStream(moving())).results) == 8

        async def stalling() -> AsyncIterator[ingest_pb.UploadItemStreamRequest]:
            yield ingest_pb.UploadItemStreamRequest(project_id="p")
            await asyncio.Event().wait()

        with pytest.raises(grpc.aio.AioRpcError) as call:
            await stub.UploadItemStream(stalling())
        assert call.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


async def _true(value: bool) -> bool:
    return value


async def test_a_stopping_service_answers_what_is_in_flight_and_then_ends(
    core_settings: CoreSettings,
) -> None:
    async with running(core_settings, shutdown_grace_seconds=3) as service:
        held_rest, held_grpc = await service.hold_rest(), await service.hold_grpc()

        service.stop.set()

        answer = await held_rest
        assert answer.status_code == 503
        assert answer.json()["reason"] == "shutting_down"
        assert answer.headers["retry-after"] == "3"
        with pytest.raises(grpc.aio.AioRpcError) as call:
            await held_grpc
        assert call.value.code() == grpc.StatusCode.UNAVAILABLE
        assert service.held.cancelled == 2
        await asyncio.wait_for(service.serving, 10)


async def test_requests_that_run_out_their_deadline_lower_the_limit(
    core_settings: CoreSettings,
) -> None:
    async with running(
        core_settings, max_requests_in_flight=16, request_deadline_seconds=0.4
    ) as service:
        assert await service.metric("requests_in_flight_limit") == 16

        assert (await service.rest.get("/held")).status_code == 504

        assert await service.metric("requests_in_flight_limit") == 12
        assert (await service.rest.get("/fast")).status_code == 200
        assert await service.metric("requests_in_flight_limit") == 13
