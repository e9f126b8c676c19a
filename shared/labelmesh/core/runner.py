"""Runs one service process: REST, gRPC, the consumer loop and the outbox
relay on one event loop, with startup checks and a clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import grpc
import uvicorn
from fastapi import APIRouter
from google.protobuf.descriptor import FileDescriptor
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from labelmesh.core import logging as lm_logging
from labelmesh.core.api import ReadinessCheck, rest_app
from labelmesh.core.bus import EventConsumer, FetchHandler, ensure_topics
from labelmesh.core.capacity import Capacity
from labelmesh.core.config import ConfigError, ServiceSettings, load
from labelmesh.core.mongo import ensure_core_indexes
from labelmesh.core.platform import Platform
from labelmesh.core.topics import PROJECTS

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ServiceSettings)
STARTUP_DEADLINE_SECONDS = 60.0
TOPIC_PARTITIONS = 3


@dataclass
class GrpcService:
    """A servicer and how to attach it to a server."""

    servicer: object
    add_to_server: Callable[[Any, grpc.aio.Server], None]
    full_name: str

    @classmethod
    def of(
        cls,
        servicer: object,
        add_to_server: Callable[[Any, grpc.aio.Server], None],
        file: FileDescriptor,
        name: str,
    ) -> GrpcService:
        """The servicer of the service `name` that the proto `file` declares."""
        return cls(servicer, add_to_server, file.services_by_name[name].full_name)


class EventSource(FetchHandler, Protocol):
    """A dispatcher, which also knows the topic families it consumes."""

    @property
    def families(self) -> Sequence[str]: ...


@dataclass
class ServiceDefinition:
    """Everything one service contributes; the runner supplies the rest."""

    platform: Platform
    router: APIRouter
    grpc_services: Sequence[GrpcService]
    # Consumes the topic families of its event table; None consumes nothing.
    events: EventSource | None = None
    on_start: Callable[[], Awaitable[None]] | None = None
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
    # Work in flight behind the consumer; fetching pauses while it is full.
    capacity: Capacity | None = None

    @property
    def name(self) -> str:
        return self.platform.service

    @property
    def settings(self) -> ServiceSettings:
        settings = self.platform.settings
        if not isinstance(settings, ServiceSettings):
            raise TypeError(f"{self.name} runs with ServiceSettings, not {type(settings).__name__}")
        return settings


async def _retry_until_deadline(what: str, action: Callable[[], Awaitable[None]]) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    while True:
        try:
            await action()
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} not reachable: {exc}") from exc
            log.warning("waiting for %s: %r", what, exc)
            await asyncio.sleep(0.5)


async def serve(
    service: ServiceDefinition, stop: asyncio.Event, started: asyncio.Event | None = None
) -> None:
    """Start everything, set `started`, run until `stop` is set, then shut down in order."""
    platform, settings = service.platform, service.settings
    await _retry_until_deadline(
        "Kafka",
        lambda: ensure_topics(
            settings.kafka_bootstrap_servers, platform.topics.all(), TOPIC_PARTITIONS
        ),
    )
    await _retry_until_deadline("MongoDB", lambda: ensure_core_indexes(platform.db))
    if service.on_start:
        await service.on_start()
    await platform.publisher.start()

    # Projects get a consumer loop of their own: a handler waiting (RetryLater)
    # for a project must not block the very loop that would deliver it.
    consumes = service.events.families if service.events else ()
    groups = {
        "projects": [f for f in consumes if f == PROJECTS],
        "events": [f for f in consumes if f != PROJECTS],
    }
    consumers = [
        EventConsumer(
            bootstrap=settings.kafka_bootstrap_servers,
            group_id=f"{settings.topic_prefix}.{service.name}.{group}",
            topics=[platform.topics.name(f) for f in families],
            dispatcher=service.events,
            publisher=platform.publisher,
            metrics=platform.metrics,
            max_attempts=settings.handler_max_attempts,
            backoff_seconds=settings.handler_retry_backoff_seconds,
            capacity=service.capacity if group == "events" else None,
        )
        for group, families in groups.items()
        if families and service.events is not None
    ]
    for consumer in consumers:
        await consumer.start()

    async def mongo_ready() -> None:
        await platform.db.command("ping")

    async def consumer_ready() -> None:
        if not all(consumer.started for consumer in consumers):
            raise RuntimeError("consumer not started")

    readiness = {"mongodb": mongo_ready, "consumer": consumer_ready, **service.readiness}
    app = rest_app(f"LabelMesh {service.name}", service.router, platform.registry, readiness)

    health_servicer = health.aio.HealthServicer()
    server = grpc.aio.server()
    names = [s.full_name for s in service.grpc_services]
    for s in service.grpc_services:
        s.add_to_server(s.servicer, server)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    server.add_insecure_port(f"{settings.bind_host}:{settings.grpc_port}")
    await server.start()
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    rest = uvicorn.Server(
        uvicorn.Config(
            app, host=settings.bind_host, port=settings.rest_port, log_config=None, lifespan="off"
        )
    )
    tasks = [asyncio.create_task(rest.serve(), name="rest")]
    tasks.append(asyncio.create_task(platform.relay.run(), name="outbox-relay"))
    for consumer in consumers:
        tasks.append(asyncio.create_task(consumer.run(), name=f"consumer {consumer.group_id}"))
    log.info(
        "serving",
        extra={
            "fields": {
                "rest": f"http://{settings.bind_host}:{settings.rest_port}",
                "grpc": f"{settings.bind_host}:{settings.grpc_port}",
                "metrics": f"http://{settings.bind_host}:{settings.rest_port}/metrics",
            }
        },
    )

    if started is not None:
        started.set()
    stopped = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
    failed = [t for t in done if t is not stopped and t.exception() is not None]
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    rest.should_exit = True
    await server.stop(grace=2)
    for task in tasks:
        if task.get_name() != "rest":
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    stopped.cancel()
    for consumer in consumers:
        await consumer.stop()
    with contextlib.suppress(Exception):
        await platform.relay.publish_pending()
    await platform.publisher.stop()
    await platform.close()
    if failed:
        raise RuntimeError(f"task {failed[0].get_name()} failed") from failed[0].exception()


def main(settings_class: type[S], build: Callable[[S], ServiceDefinition]) -> None:
    """Entry point of `python -m labelmesh.<service>`; a bad setting exits with a message."""
    try:
        settings = load(settings_class)
    except ConfigError as exc:
        sys.exit(f"labelmesh: {exc}")

    async def run() -> None:
        service = build(settings)
        lm_logging.configure(service.name, service.settings.log_level)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(service, stop)

    asyncio.run(run())
