"""The same event delivered twice has one effect: one review, one decision event."""

from __future__ import annotations

import pytest

from labelmesh.core.bus import EventPublisher
from labelmesh.core.config import CoreSettings
from labelmesh.core.envelopes import model_actor, new_envelope, user_actor
from labelmesh.core.outbox import stored_events
from labelmesh.review.app import build
from labelmesh.review.config import ReviewSettings
from labelmesh.testing.services import eventually, service_settings, serving
from labelmesh.v1.events_pb2 import AnnotationAutoAccepted, Envelope, ProjectCreated, ProjectSpec
from labelmesh.v1.geometry_pb2 import Classification, Label

pytestmark = pytest.mark.integration


def auto_accepted(item_id: str) -> Envelope:
    return new_envelope(
        AnnotationAutoAccepted(
            annotation_id=f"annotation-{item_id}",
            labels=[Label(classification=Classification(label="sports"), confidence=0.97)],
            threshold=0.9,
        ),
        producer="inference",
        actor=model_actor("m", "1"),
        project_id="p1",
        item_id=item_id,
    )


async def test_duplicate_delivery_has_one_effect(core_settings: CoreSettings) -> None:
    service = build(service_settings(ReviewSettings, core_settings))
    platform = service.platform
    project = new_envelope(
        ProjectCreated(project=ProjectSpec(project_id="p1", classes=["sports"])),
        producer="annotation",
        actor=user_actor("alice"),
        project_id="p1",
    )
    twice = auto_accepted("item-1")
    async with serving(service):
        publisher: EventPublisher = platform.publisher
        await publisher.publish([project, twice, twice])
        await publisher.publish([twice, auto_accepted("item-2")])

        async def second_item_reviewed() -> bool:
            return await platform.db["decisions"].count_documents({"item_id": "item-2"}) == 1

        await eventually(second_item_reviewed, what="the review of item-2")
        reviews = await platform.db["decisions"].count_documents({"item_id": "item-1"})
        decided = len(await stored_events(platform.db, "labelmesh.v1.ReviewDecided", "item-1"))
        completed = len(await stored_events(platform.db, "labelmesh.v1.ItemCompleted", "item-1"))
    assert (reviews, decided, completed) == (1, 1, 1)
