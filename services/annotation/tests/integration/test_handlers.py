"""Annotation's handlers against the real broker and database."""

from __future__ import annotations

import pytest

from labelmesh.annotation.app import build
from labelmesh.annotation.config import AnnotationSettings
from labelmesh.annotation.domain import NewProject
from labelmesh.annotation.usecases import Annotation
from labelmesh.core.config import CoreSettings
from labelmesh.core.envelopes import model_actor, new_envelope
from labelmesh.core.mongo import OUTBOX
from labelmesh.testing.services import eventually, serving
from labelmesh.v1.events_pb2 import DataType, ItemIngested, ModelRef, PredictionCreated
from labelmesh.v1.geometry_pb2 import Classification, Label

pytestmark = pytest.mark.integration


async def test_tasks_wait_for_their_item_and_replays_change_nothing(
    core_settings: CoreSettings,
) -> None:
    service = build(AnnotationSettings(**core_settings.model_dump(), rest_port=0, grpc_port=0))
    db = service.platform.db
    async with serving(service):
        app: Annotation = service.usecases
        project = await app.create_project(
            NewProject("p", DataType.DATA_TYPE_TEXT, ["sports", "politics"], 0.9), "alice"
        )
        pid = project.project_id
        prediction = new_envelope(
            PredictionCreated(
                prediction_id="pr-1",
                model=ModelRef(id="m", version="1"),
                labels=[Label(classification=Classification(label="sports"), confidence=0.6)],
                threshold=0.9,
            ),
            producer="inference",
            actor=model_actor("m", "1"),
            project_id=pid,
            item_id="item-1",
        )
        ingested = new_envelope(
            ItemIngested(data_type=DataType.DATA_TYPE_TEXT, text="a match report"),
            producer="ingest",
            actor=model_actor("x", "1"),
            project_id=pid,
            item_id="item-1",
        )
        # The prediction arrives first, twice: the task exists but is not handed out.
        await service.platform.publisher.publish([prediction, prediction])

        async def task_created() -> bool:
            return await db[OUTBOX].count_documents({"event_type": "labelmesh.v1.TaskCreated"}) >= 1

        await eventually(task_created, what="TaskCreated")
        assert await app.next_task(pid, "bo") is None

        await service.platform.publisher.publish([ingested, prediction])

        async def item_ready() -> bool:
            return await db["tasks"].count_documents({"item_id": "item-1", "item_ready": True}) == 1

        await eventually(item_ready, what="the item details on the task")
        task = await app.next_task(pid, "bo")
        assert task is not None
        assert (task.item_id, task.text, task.status) == ("item-1", "a match report", "assigned")
        assert task.suggestion[0].classification.label == "sports"
        assert await db["tasks"].count_documents({}) == 1
        assert await db[OUTBOX].count_documents({"event_type": "labelmesh.v1.TaskCreated"}) == 1
