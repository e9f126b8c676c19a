"""Pytest fixtures that start the real infrastructure once per session.

A Tansu broker and a SecantusDB server run as child processes on free ports;
each test gets its own topic prefix and database name, so tests never see each
other's data. Start-up waits with a deadline and fails with the server's log.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.access.app import build_app as build_access
from labelmesh.access.config import AccessSettings
from labelmesh.core.config import CoreSettings
from labelmesh.core.mongo import Document
from labelmesh.devstack.infra import secantus_server, start_and_wait, tansu_broker
from labelmesh.devstack.processes import free_port
from labelmesh.testing.access import SessionAccess
from labelmesh.testing.backends import backend  # noqa: F401  (a fixture for the contract suites)
from labelmesh.testing.hot_queries import SentCommands
from labelmesh.testing.services import serving

MOTO_START_DEADLINE_SECONDS = 10.0


@pytest.fixture(scope="session")
def infra_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("infra-logs")


@pytest.fixture(scope="session")
def kafka_bootstrap(infra_logs: Path) -> Iterator[str]:
    """Bootstrap address of a real Kafka-protocol broker."""
    port = free_port()
    broker = tansu_broker(port, infra_logs / "tansu.log")
    start_and_wait(broker, port)
    yield f"127.0.0.1:{port}"
    broker.stop()


@pytest.fixture(scope="session")
def mongo_uri(infra_logs: Path) -> Iterator[str]:
    """URI of a real MongoDB-protocol server with throwaway storage."""
    port = free_port()
    server = secantus_server(port, None, infra_logs / "secantusdb.log")
    start_and_wait(server, port)
    yield f"mongodb://127.0.0.1:{port}/?directConnection=true"
    server.stop()


@pytest.fixture
def unique_name() -> str:
    """A fresh name for this test's topics and database."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def sent_commands() -> SentCommands:
    """What `watched_db`'s client sends, for the hot-query contract tests."""
    return SentCommands()


@pytest.fixture
async def watched_db(
    mongo_uri: str, unique_name: str, sent_commands: SentCommands
) -> AsyncIterator[AsyncDatabase[Document]]:
    """A fresh database whose client records every command in `sent_commands`."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        mongo_uri, tz_aware=True, event_listeners=[sent_commands]
    )
    yield client[unique_name]
    await client.close()


@pytest.fixture(scope="session")
async def access_service(kafka_bootstrap: str, mongo_uri: str) -> AsyncIterator[SessionAccess]:
    """The access service, which every other service asks who its callers are."""
    grpc_port = free_port()
    settings = AccessSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongo_uri=mongo_uri,
        topic_prefix="session-access",
        mongo_database="session_access",
        rest_port=0,
        grpc_port=grpc_port,
    )
    app = build_access(settings)
    async with serving(app.service):
        yield SessionAccess(app, f"127.0.0.1:{grpc_port}")


@pytest.fixture
def core_settings(
    kafka_bootstrap: str, mongo_uri: str, unique_name: str, access_service: SessionAccess
) -> CoreSettings:
    """Settings aimed at the session's broker, database and access service, with fresh names."""
    return CoreSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongo_uri=mongo_uri,
        topic_prefix=unique_name,
        mongo_database=unique_name,
        handler_retry_backoff_seconds=0.01,
        handler_max_attempts=3,
        outbox_poll_seconds=0.05,
        access_grpc_target=access_service.target,
    )


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """`host:port` of a real S3 HTTP server (moto's) on 127.0.0.1."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    # start() blocks until the socket is bound and would wait forever if
    # binding failed, so it runs in a thread we wait on with a deadline.
    starter = threading.Thread(target=server.start, daemon=True)
    starter.start()
    starter.join(MOTO_START_DEADLINE_SECONDS)
    if starter.is_alive():
        pytest.fail(f"moto S3 server did not start within {MOTO_START_DEADLINE_SECONDS}s")
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()
