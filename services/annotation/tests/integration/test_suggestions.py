"""Accepting and rejecting model suggestions, against the real broker and database."""

from __future__ import annotations

import pytest

from labelmesh.annotation.app import AnnotationApp
from labelmesh.annotation.domain import NewProject
from labelmesh.annotation.usecases import TaskView
from labelmesh.core.envelopes import model_actor, new_envelope, user_actor
from labelmesh.core.errors import Conflict, InvalidField, NotFound
from labelmesh.core.outbox import stored_events
from labelmesh.core.runner import ServiceDefinition
from labelmesh.testing.services import eventually
from labelmesh.v1.events_pb2 import (
    DataType,
    Envelope,
    ItemIngested,
    ModelRef,
    PredictionCreated,
    PredictionFailed,
    PredictionSource,
)
from labelmesh.v1.geometry_pb2 import BoundingBox, Label, LabelSource

pytestmark = pytest.mark.integration
MODEL = ModelRef(id="mediapipe-face-detection", version="0.10.21")


def face(suggestion_id: str, score: float, x: float = 10) -> Label:
    return Label(
        bounding_box=BoundingBox(label="face", x=x, y=10, width=50, height=60),
        confidence=score,
        source=LabelSource(
            model_id=MODEL.id, model_version=MODEL.version, score=score, suggestion_id=suggestion_id
        ),
    )


async def open_task(wired: AnnotationApp, *events: PredictionCreated) -> TaskView:
    """A project and one image item whose task carries the given predictions."""
    service, app = wired.service, wired.annotation
    project = await app.create_project(
        NewProject("faces", DataType.DATA_TYPE_IMAGE, ["face", "person"], 0.95), user_actor("alice")
    )

    def envelope(payload: ItemIngested | PredictionCreated | PredictionFailed) -> Envelope:
        return new_envelope(
            payload,
            producer="test",
            actor=model_actor(MODEL.id, MODEL.version),
            project_id=project.project_id,
            item_id="img-1",
        )

    ingested = ItemIngested(data_type=DataType.DATA_TYPE_IMAGE, media_key="k/img-1.png")
    payloads: list[ItemIngested | PredictionCreated] = [ingested, *events]
    await service.platform.publisher.publish([envelope(e) for e in payloads])

    async def ready() -> bool:
        task = await service.platform.db["tasks"].find_one({"item_id": "img-1"})
        expected = sum(len(e.labels) for e in events)
        return bool(task and task.get("item_ready") and len(task.get("suggestion", [])) == expected)

    await eventually(ready, what="the task with its suggestions")
    task = await app.next_task(project.project_id, "bo")
    assert task is not None
    return task


async def outbox(service: ServiceDefinition, event_type: str) -> list[Envelope]:
    return await stored_events(service.platform.db, f"labelmesh.v1.{event_type}")


def auto(*labels: Label) -> PredictionCreated:
    return PredictionCreated(
        prediction_id="p-auto",
        model=MODEL,
        labels=labels,
        source=PredictionSource.PREDICTION_SOURCE_AUTO,
    )


async def test_accepting_a_suggestion_makes_an_annotation_that_records_its_source(
    wired: AnnotationApp,
) -> None:
    service, app = wired.service, wired.annotation
    task = await open_task(wired, auto(face("s1", 0.91), face("s2", 0.4, x=200)))
    annotation_id = await app.accept_suggestions(task.task_id, ["s1"], "bo")

    [stored] = await app.item_annotations("img-1")
    assert (stored.annotation_id, stored.source, stored.annotator) == (
        annotation_id,
        "suggestion",
        "bo",
    )
    source = stored.labels[0].source
    assert (source.model_id, source.score, source.accepted_by) == (MODEL.id, 0.91, "bo")
    assert (await app.get_task(task.task_id)).status == "submitted"

    [accepted] = await outbox(service, "SuggestionAccepted")
    assert accepted.suggestion_accepted.suggestion_id == "s1"
    assert accepted.suggestion_accepted.label.source.accepted_by == "bo"
    [rejected] = await outbox(service, "SuggestionRejected")
    assert rejected.suggestion_rejected.suggestion_id == "s2"
    assert rejected.suggestion_rejected.reason == "not accepted"
    [submitted] = await outbox(service, "AnnotationSubmitted")
    assert submitted.annotation_submitted.labels[0].source.suggestion_id == "s1"
    with pytest.raises(Conflict):
        await app.accept_suggestions(task.task_id, [], "bo")


async def test_rejecting_a_suggestion_keeps_the_task_open_and_records_the_reason(
    wired: AnnotationApp,
) -> None:
    service, app = wired.service, wired.annotation
    task = await open_task(wired, auto(face("s1", 0.91), face("s2", 0.4, x=200)))
    await app.reject_suggestion(task.task_id, "s2", "bo", "that is a poster, not a face")

    after = await app.get_task(task.task_id)
    assert after.status == "assigned"
    assert [s.source.suggestion_id for s in after.suggestion] == ["s1"]
    [rejected] = await outbox(service, "SuggestionRejected")
    assert rejected.suggestion_rejected.reason == "that is a poster, not a face"
    assert rejected.suggestion_rejected.label.source.score == pytest.approx(0.4)
    with pytest.raises(NotFound):
        await app.reject_suggestion(task.task_id, "s2", "bo", "")
    with pytest.raises(InvalidField) as unknown:
        await app.accept_suggestions(task.task_id, ["s1", "nope"], "bo")
    assert unknown.value.field == "suggestion_ids[1]"
    assert await app.item_annotations("img-1") == []


async def test_assist_suggestions_join_the_open_task(wired: AnnotationApp) -> None:
    app = wired.annotation
    assisted = PredictionCreated(
        prediction_id="p-assist",
        model=MODEL,
        labels=[face("s9", 0.7, x=300)],
        source=PredictionSource.PREDICTION_SOURCE_ASSIST,
    )
    task = await open_task(wired, auto(face("s1", 0.91)), assisted)
    assert sorted(s.source.suggestion_id for s in task.suggestion) == ["s1", "s9"]
    await app.accept_suggestions(task.task_id, [], "bo")
    [stored] = await app.item_annotations("img-1")
    assert len(stored.labels) == 2


async def test_an_item_no_model_could_read_becomes_a_task_without_suggestion(
    wired: AnnotationApp,
) -> None:
    service = wired.service
    failed = PredictionFailed(
        prediction_id="p-f",
        model=MODEL,
        reason="media: not a decodable image",
        field="media",
        source=PredictionSource.PREDICTION_SOURCE_AUTO,
    )
    app = wired.annotation
    project = await app.create_project(
        NewProject("faces", DataType.DATA_TYPE_IMAGE, ["face"], 0.95), user_actor("alice")
    )
    envelopes = [
        new_envelope(
            payload,
            producer="test",
            actor=model_actor(MODEL.id, MODEL.version),
            project_id=project.project_id,
            item_id="img-2",
        )
        for payload in (ItemIngested(data_type=DataType.DATA_TYPE_IMAGE, media_key="k"), failed)
    ]
    await service.platform.publisher.publish(envelopes)

    async def task_opened() -> bool:
        return bool(await outbox(service, "TaskCreated"))

    await eventually(task_opened, what="TaskCreated for the unreadable item")
    task = await app.next_task(project.project_id, "bo")
    assert task is not None and task.suggestion == []
    document = await service.platform.db["tasks"].find_one({"_id": task.task_id})
    assert document is not None and document["prediction_error"] == "media: not a decodable image"
