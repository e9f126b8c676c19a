"""Runs one service process: REST, gRPC, the consumer loop and the outbox
relay on one event loop, with startup checks, admission control on both APIs
and a shutdown bounded by `LABELMESH_SHUTDOWN_GRACE_SECONDS`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import grpc
import uvicorn
from fastapi import APIRouter
from google.protobuf.descriptor import FileDescriptor
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from labelmesh.core import denials
from labelmesh.core import logging as lm_logging
from labelmesh.core.admission import Admission, tasks_without_request_deadlines
from labelmesh.core.admission_grpc import GrpcAdmission
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
# gRPC probes bypass admission control, so that a loaded service still reports.
GRPC_PROBE_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
# Past its grace, a stopping process exits regardless (a thread stuck in a
# model or a blocking call would otherwise hold the interpreter open).
EXIT_WATCHDOG_EXTRA_SECONDS = 0.5


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
    # Loops that run beside the consumers until shutdown cancels them.
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = ()
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
    # Work in flight behind the consumer; fetching pauses while it is full.
    capacity: Capacity | None = None
    # A larger request limit than LABELMESH_MAX_REQUEST_BYTES, for uploads.
    max_request_bytes: int | None = None

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
    restore_tasks = tasks_without_request_deadlines(asyncio.get_running_loop())
    try:
        await _serve(service, stop, started)
    finally:
        restore_tasks()


async def _serve(
    service: ServiceDefinition, stop: asyncio.Event, started: asyncio.Event | None
) -> None:
    platform, settings = service.platform, service.settings
    # Set before the servers start: every request task of this service inherits it.
    denials.CURRENT.set(platform.denials)
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
    admission = Admission.for_service(service.name, settings, platform.registry)
    max_bytes = service.max_request_bytes or settings.max_request_bytes
    app = rest_app(
        f"LabelMesh {service.name}",
        service.router,
        platform.registry,
        readiness,
        platform.authenticator,
        admission,
        max_bytes,
    )

    health_servicer = health.aio.HealthServicer()
    server = grpc.aio.server(
        interceptors=[GrpcAdmission(admission, GRPC_PROBE_PREFIXES)],
        options=[("grpc.max_receive_message_length", max_bytes)],
    )
    names = [s.full_name for s in service.grpc_services]
    for s in service.grpc_services:
        s.add_to_server(s.servicer, server)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    address = f"{settings.bind_host}:{settings.grpc_port}"
    if settings.tls_cert_file and settings.tls_key_file:
        pair = (settings.tls_key_file.read_bytes(), settings.tls_cert_file.read_bytes())
        server.add_secure_port(address, grpc.ssl_server_credentials([pair]))
    else:
        server.add_insecure_port(address)
    await server.start()
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    grace = settings.shutdown_grace_seconds
    rest = _RestServer(
        uvicorn.Config(
            app,
            host=settings.bind_host,
            port=settings.rest_port,
            log_config=None,
            lifespan="off",
            ssl_certfile=settings.tls_cert_file,
            ssl_keyfile=settings.tls_key_file,
            # uvicorn takes whole seconds; in-flight requests are cancelled after it.
            timeout_graceful_shutdown=max(1, int(grace / 2)),
        )
    )
    rest_task = asyncio.create_task(rest.serve(), name="rest")
    background = [asyncio.create_task(platform.relay.run(), name="outbox-relay")]
    for consumer in consumers:
        background.append(asyncio.create_task(consumer.run(), name=f"consumer {consumer.group_id}"))
    for loop in service.background:
        background.append(asyncio.create_task(loop(), name=getattr(loop, "__name__", "loop")))
    tasks = [rest_task, *background]
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
    stopped.cancel()
    failed = [t for t in done if t is not stopped and t.exception() is not None]
    log.info("stopping", extra={"fields": {"grace_seconds": grace}})

    # Each step gets what is left of the grace, and is abandoned past it.
    clock = _ShutdownClock(grace)
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    # Requests in flight are answered (504) before the servers cancel what is left.
    admission.stop(grace / 2 - 0.5)
    rest.should_exit = True
    # Both APIs drain in parallel; calls still running after half the grace are cancelled.
    await clock.step(
        "APIs",
        asyncio.gather(server.stop(grace / 2), asyncio.wait({rest_task})),
        share=0.75,
    )
    for task in tasks:
        task.cancel()
    await clock.step("background tasks", asyncio.gather(*tasks, return_exceptions=True))
    await clock.step("consumers", asyncio.gather(*(c.stop() for c in consumers)))
    await clock.step("outbox relay", platform.relay.publish_pending(), share=0.5)
    await clock.step("publisher", platform.publisher.stop())
    await clock.step("database client", platform.close())
    log.info("stopped")
    if failed:
        raise RuntimeError(f"task {failed[0].get_name()} failed") from failed[0].exception()


class _RestServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the runner's stop event stops
    every part of the service, in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _ShutdownClock:
    """One budget for every shutdown step: a step that overruns is abandoned, so
    that a stalled database or broker cannot hold the process open."""

    def __init__(self, seconds: float) -> None:
        self._loop = asyncio.get_running_loop()
        self.ends = self._loop.time() + seconds

    async def step(self, what: str, work: Awaitable[object], share: float = 1.0) -> None:
        """Wait for `work` at most `share` of the time left. Past it, the work is
        cancelled and left behind: waiting for it to wind down (a transaction
        aborting on a busy database) is what must not happen."""
        left = max(self.ends - self._loop.time(), 0.0) * share
        future = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({future}, timeout=left)
        if not done:
            future.cancel()
            log.warning("shutdown: %s abandoned after the grace period", what)
        elif not future.cancelled() and future.exception() is not None:
            log.warning("shutdown: %s failed: %r", what, future.exception())


def main(settings_class: type[S], build: Callable[[S], ServiceDefinition]) -> None:
    """Entry point of `python -m labelmesh.<service>`; a bad setting exits with a message.

    SIGINT or SIGTERM starts the bounded shutdown. Once it is done the process
    exits at once: Python's own exit would wait, without a limit, for tasks to
    wind down and for worker threads (a model call) to finish. A watchdog ends
    the process if the shutdown itself overruns (a blocked event loop).
    """
    try:
        settings = load(settings_class)
    except ConfigError as exc:
        sys.exit(f"labelmesh: {exc}")

    def exit_now(code: int) -> None:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    def exit_anyway() -> None:
        log.error("shutdown overran its grace; exiting")
        exit_now(1)

    async def run() -> None:
        service = build(settings)
        lm_logging.configure(service.name, service.settings.log_level)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        watchdog = threading.Timer(
            settings.shutdown_grace_seconds + EXIT_WATCHDOG_EXTRA_SECONDS, exit_anyway
        )
        watchdog.daemon = True

        started = asyncio.Event()
        serving = asyncio.create_task(serve(service, stop, started))

        def on_signal() -> None:
            stop.set()
            if not started.is_set():
                serving.cancel()  # still starting (waiting for Kafka, loading models)
            if not watchdog.is_alive():
                watchdog.start()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        try:
            await serving
        except asyncio.CancelledError:
            exit_now(0)
        except Exception:
            log.exception("%s failed", service.name)
            exit_now(1)
        exit_now(0)

    asyncio.run(run())
