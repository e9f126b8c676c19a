"""The auto-annotation setup repository's contract, against the twin and SecantusDB."""

from __future__ import annotations

import pytest

from labelmesh.inference.adapters.repository import MongoSetupRepository
from labelmesh.inference.ports import SetupRepository
from labelmesh.inference.records import AutoAnnotationSetup
from labelmesh.testing.backends import Backend
from labelmesh.testing.twins.inference import InMemorySetupRepository
from labelmesh.v1.events_pb2 import AutoAnnotationRules, ModelBinding


def repository(backend: Backend) -> SetupRepository:
    return backend.pick(InMemorySetupRepository, MongoSetupRepository)


def setup(version: int, threshold: float = 0.9) -> AutoAnnotationSetup:
    return AutoAnnotationSetup(
        models=(
            ModelBinding(model_id="faces", label_map={"face": "person"}),
            ModelBinding(model_id="pose"),
        ),
        rules=AutoAnnotationRules(
            version=version,
            default_min_confidence=threshold,
            class_min_confidence={"person": 0.8},
            floor=0.2,
        ),
    )


async def test_a_setup_round_trips_and_replaces_only_the_expected_version(
    backend: Backend,
) -> None:
    setups = repository(backend)
    assert await setups.get("p1") is None
    async with backend.uow.begin() as tx:
        assert await setups.replace(tx, "p1", setup(2), expected_version=1)
    assert await setups.get("p1") == setup(2)
    async with backend.uow.begin() as tx:
        assert await setups.replace(tx, "p1", setup(3, 0.5), expected_version=2)
    assert await setups.get("p1") == setup(3, 0.5)
    assert await setups.get("p2") is None


async def test_a_stale_version_is_refused(backend: Backend) -> None:
    setups = repository(backend)
    async with backend.uow.begin() as tx:
        assert await setups.replace(tx, "p1", setup(2), expected_version=1)
    refused = False
    try:
        async with backend.uow.begin() as tx:
            refused = not await setups.replace(tx, "p1", setup(3, 0.1), expected_version=1)
            if refused:
                raise RuntimeError("refused")  # a use case raises Conflict here
    except RuntimeError:
        pass
    assert refused
    assert await setups.get("p1") == setup(2)


async def test_a_rolled_back_replace_leaves_nothing(backend: Backend) -> None:
    setups = repository(backend)
    with pytest.raises(RuntimeError):
        async with backend.uow.begin() as tx:
            await setups.replace(tx, "p1", setup(2), expected_version=1)
            raise RuntimeError("after writing")
    assert await setups.get("p1") is None
