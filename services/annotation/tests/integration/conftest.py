"""The annotation service running in-process against the real broker and
database, and helpers to create projects and fill their queues through events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import httpx
import pytest
from google.protobuf.message import Message

from labelmesh.annotation.app import AnnotationApp, build_app
from labelmesh.annotation.config import AnnotationSettings
from labelmesh.annotation.domain import NewProject
from labelmesh.annotation.usecases import Annotation
from labelmesh.core.api import rest_app
from labelmesh.core.config import CoreSettings
from labelmesh.core.envelopes import model_actor, new_envelope
from labelmesh.core.mongo import PROCESSED
from labelmesh.core.runner import ServiceDefinition
from labelmesh.testing.services import eventually, serving
from labelmesh.v1.events_pb2 import (
    DataType,
    Envelope,
    ItemIngested,
    ModelRef,
    PredictionCreated,
    ReviewPolicy,
)
from labelmesh.v1.geometry_pb2 import Classification, Label

MODEL = ModelRef(id="m", version="1")
CLASSES = ["sports", "politics"]

# (project id, item id, payloads): publish the payloads about that item.
Publish = Callable[[str, str, Sequence[Message]], Awaitable[list[Envelope]]]
NewQueueProject = Callable[..., Awaitable[str]]
AddItems = Callable[[str, Sequence[str]], Awaitable[None]]


@pytest.fixture
async def wired(core_settings: CoreSettings) -> AsyncIterator[AnnotationApp]:
    """The whole service, running."""
    wired = build_app(AnnotationSettings(**core_settings.model_dump(), rest_port=0, grpc_port=0))
    async with serving(wired.service):
        yield wired


@pytest.fixture
def service(wired: AnnotationApp) -> ServiceDefinition:
    return wired.service


@pytest.fixture
def app(wired: AnnotationApp) -> Annotation:
    return wired.annotation


@pytest.fixture
async def rest(service: ServiceDefinition) -> AsyncIterator[httpx.AsyncClient]:
    """The service's REST API, called in-process."""
    api = rest_app("annotation", service.router, service.platform.registry, {})
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://annotation") as client:
        yield client


async def publish_and_wait(service: ServiceDefinition, envelopes: Sequence[Envelope]) -> None:
    """Publish events and wait until the service has handled every one."""
    await service.platform.publisher.publish(envelopes)
    ids = {e.event_id for e in envelopes}
    processed = service.platform.db[PROCESSED]

    async def handled() -> bool:
        return await processed.count_documents({"_id": {"$in": list(ids)}}) == len(ids)

    await eventually(handled, what=f"the service to handle {len(ids)} events")


def envelope(project_id: str, item_id: str, payload: Message) -> Envelope:
    return new_envelope(
        payload,
        producer="test",
        actor=model_actor(MODEL.id, MODEL.version),
        project_id=project_id,
        item_id=item_id,
    )


@pytest.fixture
def publish(service: ServiceDefinition) -> Publish:
    """Publish events about one item; returns once the service has handled them."""

    async def send(project_id: str, item_id: str, payloads: Sequence[Message]) -> list[Envelope]:
        envelopes = [envelope(project_id, item_id, payload) for payload in payloads]
        await publish_and_wait(service, envelopes)
        return envelopes

    return send


@pytest.fixture
def new_project(app: Annotation) -> NewQueueProject:
    """A text project with the given review policy fields; returns its id."""

    async def create(overlap: int = 0, gold_ratio: float = 0.0) -> str:
        policy = ReviewPolicy(overlap=overlap, gold_ratio=gold_ratio)
        project = await app.create_project(
            NewProject("queue", DataType.DATA_TYPE_TEXT, CLASSES, 0.9, review_policy=policy),
            "owner",
        )
        return project.project_id

    return create


@pytest.fixture
def add_items(service: ServiceDefinition) -> AddItems:
    """Text items with a suggestion each, waiting in the queue once this returns."""

    async def add(project_id: str, item_ids: Sequence[str]) -> None:
        ingested = [
            envelope(
                project_id,
                item_id,
                ItemIngested(data_type=DataType.DATA_TYPE_TEXT, text=f"text of {item_id}"),
            )
            for item_id in item_ids
        ]
        predicted = [
            envelope(
                project_id,
                item_id,
                PredictionCreated(
                    prediction_id=f"p-{item_id}",
                    model=MODEL,
                    labels=[Label(classification=Classification(label="sports"), confidence=0.6)],
                    threshold=0.9,
                ),
            )
            for item_id in item_ids
        ]
        await publish_and_wait(service, [*ingested, *predicted])

    return add
