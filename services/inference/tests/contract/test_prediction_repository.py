"""The prediction repository's contract, against the in-memory twin and SecantusDB."""

from __future__ import annotations

import asyncio

import pytest

from labelmesh.core.errors import Conflict
from labelmesh.inference.adapters.repository import MongoPredictionRepository
from labelmesh.inference.ports import PredictionRepository
from labelmesh.inference.records import StoredPrediction
from labelmesh.testing.backends import Backend
from labelmesh.testing.twins.inference import InMemoryPredictionRepository
from labelmesh.v1.events_pb2 import (
    AutoAnnotationStatus,
    ModelRef,
    PredictionCreated,
    PredictionSource,
)
from labelmesh.v1.geometry_pb2 import Classification, Label

AUTO = PredictionSource.PREDICTION_SOURCE_AUTO
ASSIST = PredictionSource.PREDICTION_SOURCE_ASSIST


def repository(backend: Backend) -> PredictionRepository:
    return backend.pick(InMemoryPredictionRepository, MongoPredictionRepository)


def predicted(prediction_id: str, source: int = AUTO, label: str = "sports") -> PredictionCreated:
    model = ModelRef(id="m", version="1")
    return PredictionCreated(
        prediction_id=prediction_id,
        model=model,
        models=[model],
        labels=[Label(classification=Classification(label=label), confidence=0.7)],
        auto_accepted=False,
        threshold=0.9,
        status=AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_AWAITING_REVIEW,
        rule_version=2,
        source=source,  # type: ignore[arg-type]
        skipped_reason="",
    )


@pytest.fixture
def predictions(backend: Backend) -> PredictionRepository:
    return repository(backend)


async def save(
    backend: Backend, predictions: PredictionRepository, *saved: StoredPrediction
) -> None:
    async with backend.uow.begin() as tx:
        await predictions.save(tx, list(saved))


async def test_the_latest_auto_prediction_of_an_item_round_trips(
    backend: Backend, predictions: PredictionRepository
) -> None:
    if isinstance(predictions, MongoPredictionRepository):
        await predictions.ensure_indexes()
    await save(backend, predictions, StoredPrediction("i1", "p1", predicted("a", label="cooking")))
    await asyncio.sleep(0.01)  # stored times are in milliseconds
    await save(backend, predictions, StoredPrediction("i1", "p1", predicted("b")))
    await asyncio.sleep(0.01)
    # AI Assist's predictions and other items' do not count.
    await save(
        backend,
        predictions,
        StoredPrediction("i1", "p1", predicted("c", ASSIST, "politics")),
        StoredPrediction("i2", "p1", predicted("d", label="politics")),
    )
    assert (await predictions.latest_auto("i1")) == StoredPrediction("i1", "p1", predicted("b"))
    assert (await predictions.latest_auto("i2")) == StoredPrediction(
        "i2", "p1", predicted("d", label="politics")
    )
    assert await predictions.latest_auto("missing") is None


async def test_a_prediction_id_is_stored_once(
    backend: Backend, predictions: PredictionRepository
) -> None:
    await save(backend, predictions, StoredPrediction("i1", "p1", predicted("a")))
    with pytest.raises(Conflict):
        await save(
            backend, predictions, StoredPrediction("i2", "p1", predicted("a", label="cooking"))
        )
    assert (await predictions.latest_auto("i1")) == StoredPrediction("i1", "p1", predicted("a"))
    assert await predictions.latest_auto("i2") is None


async def test_a_rolled_back_save_leaves_nothing(
    backend: Backend, predictions: PredictionRepository
) -> None:
    with pytest.raises(RuntimeError):
        async with backend.uow.begin() as tx:
            await predictions.save(tx, [StoredPrediction("i1", "p1", predicted("a"))])
            raise RuntimeError("after writing")
    assert await predictions.latest_auto("i1") is None


async def test_stored_prediction_ids_are_told_apart_from_new_ones(
    backend: Backend, predictions: PredictionRepository
) -> None:
    await save(backend, predictions, StoredPrediction("i1", "p1", predicted("a")))
    async with backend.uow.begin() as tx:
        assert await predictions.known(tx, ["a", "b"]) == {"a"}
        assert await predictions.known(tx, []) == set()
