"""The remote-model registrations' contract, against the twin and SecantusDB."""

from __future__ import annotations

from labelmesh.inference.adapters.repository import MongoModelRegistrations
from labelmesh.inference.ports import ModelRegistrations
from labelmesh.testing.backends import Backend
from labelmesh.testing.registrations import registration
from labelmesh.testing.twins.inference import InMemoryModelRegistrations


def repository(backend: Backend) -> ModelRegistrations:
    return backend.pick(InMemoryModelRegistrations, MongoModelRegistrations)


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
