"""The model registry on the in-memory twins, with fake models behind the port."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelmesh.core.errors import Conflict, InvalidField, NotFound
from labelmesh.inference import views
from labelmesh.inference.enums import with_both_forms
from labelmesh.inference.models.base import Task
from labelmesh.inference.models.catalog import ZERO_SHOT
from labelmesh.inference.records import Judgement
from labelmesh.testing.registrations import registration
from labelmesh.v1 import inference_service_pb2 as pb

from .fakes import BOXES, TOPICS, FakeRemote, harness


async def test_models_lists_the_built_in_models_then_the_registered_ones_by_id(
    tmp_path: Path,
) -> None:
    h = harness(tmp_path)
    registry = h.cases.registry
    await registry.register(registration("zz-topics"))
    await registry.register(registration("aa-topics"))
    listed = await registry.models()
    assert [m.spec.id for m in listed] == [ZERO_SHOT, TOPICS, BOXES, "aa-topics", "zz-topics"]
    assert [m.remote is not None for m in listed] == [False, False, False, True, True]
    assert listed[3].spec.task == Task.CLASSIFICATION
    assert listed[3].spec.description == "served at http://models:8080 as 'topics'"


async def test_describe_includes_the_measured_quality(tmp_path: Path) -> None:
    h = harness(tmp_path)
    async with h.uow.begin() as tx:
        await h.repositories.judgements.record(
            tx,
            [Judgement(TOPICS, 9, True), Judgement(TOPICS, 9, False), Judgement(TOPICS, 2, True)],
        )
    described = await h.cases.registry.describe(TOPICS)
    assert (described.quality.accepted, described.quality.rejected) == (2, 1)
    assert described.quality.precision == pytest.approx(2 / 3)
    with pytest.raises(NotFound):
        await h.cases.registry.describe("nothing")


async def test_register_stores_a_model_that_answers_and_refuses_the_others(
    tmp_path: Path,
) -> None:
    h = harness(tmp_path)
    registry = h.cases.registry
    described = await registry.register(registration())
    assert described.remote is not None and described.remote.url == "http://models:8080"
    stored = await h.repositories.registrations.get("team-topics")
    assert stored == with_both_forms(registration())
    assert stored is not None and stored.model_task == pb.MODEL_TASK_CLASSIFICATION
    assert h.uow.commits == 1

    with pytest.raises(Conflict, match="built-in"):
        await registry.register(registration(TOPICS))
    with pytest.raises(InvalidField) as down:
        await registry.register(registration("other", url="http://down:8080"))
    assert down.value.field == "remote.url"
    assert "did not answer" in down.value.reason
    assert await h.repositories.registrations.get("other") is None
    assert registry.pool.get("other") is None
    # A re-registration that does not answer leaves the working one in place.
    working = registry.pool.get("team-topics")
    with pytest.raises(InvalidField):
        await registry.register(registration("team-topics", url="http://down:8080"))
    assert registry.pool.get("team-topics") is working
    assert await h.repositories.registrations.get("team-topics") == stored

    wrong = registration("other")
    wrong.task = "astrology"
    with pytest.raises(InvalidField) as task:
        await registry.register(wrong)
    assert task.value.field == "task"
    wrong = registration("other")
    wrong.remote.preprocess = "smell"
    with pytest.raises(InvalidField) as preprocess:
        await registry.register(wrong)
    assert preprocess.value.field == "remote"
    for field, change in [
        ("model.id", lambda r: r.model.ClearField("id")),
        ("model.version", lambda r: r.model.ClearField("version")),
        ("data_type", lambda r: r.ClearField("data_type")),
        ("remote.url", lambda r: r.remote.ClearField("url")),
    ]:
        broken = registration("other")
        change(broken)
        with pytest.raises(InvalidField) as invalid:
            await registry.register(broken)
        assert invalid.value.field == field


async def test_a_runner_follows_the_stored_registration(tmp_path: Path) -> None:
    """Another replica may re-register a model: the runner is rebuilt from the store."""
    h = harness(tmp_path)
    registry = h.cases.registry
    assert await registry.runner("team-topics") is None
    await registry.register(registration(version="1"))
    first = await registry.runner("team-topics")
    assert first is not None and first.spec.version == "1"
    assert await registry.runner("team-topics") is first
    async with h.uow.begin() as tx:
        await h.repositories.registrations.save(tx, registration(version="2"))
    second = await registry.runner("team-topics")
    assert second is not None and second is not first
    assert second.spec.version == "2"
    assert isinstance(second.model, FakeRemote)
    assert await registry.runner(TOPICS) is h.pool.get(TOPICS)
    assert registry.built_in(ZERO_SHOT) is h.pool.get(ZERO_SHOT)
    with pytest.raises(LookupError):
        registry.built_in("team-topics")


async def test_a_registration_may_name_its_closed_sets_by_enum(tmp_path: Path) -> None:
    h = harness(tmp_path)
    by_enum = registration()
    by_enum.ClearField("task")
    by_enum.model_task = pb.MODEL_TASK_CLASSIFICATION
    by_enum.remote.ClearField("preprocess")
    by_enum.remote.preprocessing = pb.REMOTE_PREPROCESS_TEXT_EMBEDDING
    by_enum.remote.ClearField("postprocess")
    by_enum.remote.postprocessing = pb.REMOTE_POSTPROCESS_BOXES
    described = await h.cases.registry.register(by_enum)
    assert described.spec.task == Task.CLASSIFICATION
    assert described.remote is not None
    assert (described.remote.preprocess, described.remote.postprocess) == (
        "text_embedding",
        "boxes",
    )
    info = views.model_info(described)
    assert (info.task, info.model_task) == ("classification", pb.MODEL_TASK_CLASSIFICATION)
    assert info.runtime == pb.MODEL_RUNTIME_REMOTE
    assert info.remote.preprocessing == pb.REMOTE_PREPROCESS_TEXT_EMBEDDING
    built_in = views.model_info(await h.cases.registry.describe(BOXES))
    assert (built_in.task, built_in.model_task) == ("detection", pb.MODEL_TASK_DETECTION)
    assert built_in.runtime == pb.MODEL_RUNTIME_IN_PROCESS
    assert not built_in.HasField("remote")
