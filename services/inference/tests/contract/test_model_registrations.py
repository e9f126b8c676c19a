"""The remote-model registrations' contract, against the twin and SecantusDB."""

from __future__ import annotations

from labelmesh.inference.adapters.repository import MongoModelRegistrations
from labelmesh.inference.ports import ModelRegistrations
from labelmesh.testing.backends import Backend
from labelmesh.testing.twins.inference import InMemoryModelRegistrations
from labelmesh.v1.events_pb2 import DataType, ModelRef
from labelmesh.v1.inference_service_pb2 import RegisterModelRequest, RemoteModel, RemoteTransport


def repository(backend: Backend) -> ModelRegistrations:
    return backend.pick(InMemoryModelRegistrations, MongoModelRegistrations)


def registration(model_id: str, version: str = "1") -> RegisterModelRequest:
    return RegisterModelRequest(
        model=ModelRef(id=model_id, version=version),
        task="classification",
        data_type=DataType.DATA_TYPE_TEXT,
        labels=["sports", "politics"],
        remote=RemoteModel(
            url="http://models:8080",
            transport=RemoteTransport.REMOTE_TRANSPORT_REST,
            name="topics",
            version="3",
            preprocess="text_embedding",
            postprocess="class_probabilities",
            output="probabilities",
            timeout_seconds=2.5,
        ),
    )


async def test_registrations_round_trip_are_listed_by_id_and_replaced_by_id(
    backend: Backend,
) -> None:
    models = repository(backend)
    assert await models.all() == []
    async with backend.uow.begin() as tx:
        await models.save(tx, registration("zeta"))
        await models.save(tx, registration("alpha"))
    async with backend.uow.begin() as tx:
        await models.save(tx, registration("zeta", "2"))
    assert await models.get("zeta") == registration("zeta", "2")
    assert await models.get("missing") is None
    assert await models.all() == [registration("alpha"), registration("zeta", "2")]
