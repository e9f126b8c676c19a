"""Inference against the real broker and database."""

from __future__ import annotations

import asyncio

import pytest

from labelmesh.core.config import CoreSettings
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.core.mongo import PROCESSED
from labelmesh.core.runner import ServiceDefinition
from labelmesh.inference.app import build_app
from labelmesh.inference.config import InferenceSettings
from labelmesh.testing.services import eventually, served_app
from labelmesh.v1.events_pb2 import (
    DataType,
    Envelope,
    ImportedPrediction,
    ItemIngested,
    ProjectCreated,
    ProjectSpec,
)
from labelmesh.v1.geometry_pb2 import Classification, Label

pytestmark = pytest.mark.integration


async def test_an_item_that_arrives_before_its_project_waits_for_it(
    core_settings: CoreSettings,
) -> None:
    """The item's retries must not hold up the loop that delivers the project."""
    item = new_envelope(
        ItemIngested(data_type=DataType.DATA_TYPE_TEXT, text="The striker scored twice"),
        producer="ingest",
        actor=user_actor("dana"),
        project_id="p1",
        item_id="item-1",
    )
    project = new_envelope(
        ProjectCreated(
            project=ProjectSpec(
                project_id="p1",
                data_type=DataType.DATA_TYPE_TEXT,
                classes=["sports", "cooking"],
                auto_accept_threshold=0.99,
            )
        ),
        producer="annotation",
        actor=user_actor("dana"),
        project_id="p1",
    )
    async with served_app(
        build_app,
        InferenceSettings,
        core_settings,
        handler_max_attempts=5,
        handler_retry_backoff_seconds=0.2,
    ) as app:
        service = app.service
        await service.platform.publisher.publish([item])
        await asyncio.sleep(0.5)  # the item is already being retried
        await service.platform.publisher.publish([project])

        async def predicted() -> bool:
            return await service.platform.db["predictions"].count_documents({}) == 1

        await eventually(predicted, within=20, what="the item's prediction")
        prediction = await app.use_cases.prelabelling.latest("item-1")
    assert prediction.labels[0].classification.label == "sports"
    assert not prediction.auto_accepted


async def test_an_imported_prediction_is_stored_once_as_the_items_prediction(
    core_settings: CoreSettings,
) -> None:
    project = new_envelope(
        ProjectCreated(
            project=ProjectSpec(
                project_id="p2", data_type=DataType.DATA_TYPE_TEXT, classes=["sports", "cooking"]
            )
        ),
        producer="annotation",
        actor=user_actor("dana"),
        project_id="p2",
    )
    imported = ItemIngested(
        data_type=DataType.DATA_TYPE_TEXT,
        text="The striker scored twice",
        source="label-studio",
        imported_predictions=[
            ImportedPrediction(
                labels=[Label(classification=Classification(label="cooking"))],
                score=0.4,
                model_version="ls-2",
            )
        ],
    )

    def arrival() -> Envelope:
        return new_envelope(
            imported, producer="ingest", actor=user_actor("ida"), project_id="p2", item_id="i1"
        )

    async with served_app(build_app, InferenceSettings, core_settings) as app:
        service = app.service
        await service.platform.publisher.publish([project, arrival(), arrival()])
        predictions = service.platform.db["predictions"]

        async def predicted() -> bool:
            return await predictions.count_documents({}) == 1

        await eventually(predicted, within=20, what="the imported prediction")
        prediction = await app.use_cases.prelabelling.latest("i1")
        # A third announcement, once the first is stored, adds nothing either.
        await service.platform.publisher.publish([arrival()])
        await eventually(lambda: handled(service, 4), within=20, what="every event handled")
        assert await predictions.count_documents({}) == 1
    assert (prediction.model.id, prediction.model.version) == ("label-studio", "ls-2")
    assert prediction.labels[0].confidence == pytest.approx(0.4)
    assert not prediction.auto_accepted


async def handled(service: ServiceDefinition, count: int) -> bool:
    return await service.platform.db[PROCESSED].count_documents({}) >= count
