"""Projects' auto-annotation setups on the twins."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelmesh.core.errors import Conflict, InvalidField, NotFound
from labelmesh.inference.auto_annotation import label_maps, model_ids
from labelmesh.inference.models.catalog import ZERO_SHOT
from labelmesh.inference.records import AutoAnnotationSetup
from labelmesh.v1.events_pb2 import AutoAnnotationRules, DataType, ModelBinding, ProjectSpec

from .fakes import BOXES, TOPICS, Harness, harness

PROJECT = ProjectSpec(
    project_id="p1",
    data_type=DataType.DATA_TYPE_TEXT,
    classes=["sports", "cooking"],
    auto_accept_threshold=0.9,
)


async def known(h: Harness, project: ProjectSpec = PROJECT) -> None:
    async with h.uow.begin() as tx:
        await h.repositories.projects.save(tx, project)


async def test_a_project_is_known_once_announced(tmp_path: Path) -> None:
    h = harness(tmp_path)
    with pytest.raises(NotFound):
        await h.cases.auto_annotation.project("p1")
    await known(h)
    assert await h.cases.auto_annotation.project("p1") == PROJECT


async def test_the_first_setup_is_the_projects_own_at_version_1(tmp_path: Path) -> None:
    h = harness(tmp_path)
    setup = await h.cases.auto_annotation.setup(PROJECT)
    assert setup == AutoAnnotationSetup(
        (), AutoAnnotationRules(version=1, default_min_confidence=0.9)
    )
    assert model_ids(PROJECT, setup) == [ZERO_SHOT]
    image = ProjectSpec(project_id="p2", data_type=DataType.DATA_TYPE_IMAGE)
    assert model_ids(image, await h.cases.auto_annotation.setup(image)) == []


async def test_configure_stores_a_new_version_and_announces_it(tmp_path: Path) -> None:
    h = harness(tmp_path)
    await known(h)
    binding = ModelBinding(model_id=TOPICS, label_map={"sports": "sports"})
    rules = AutoAnnotationRules(default_min_confidence=0.8, class_min_confidence={"cooking": 0.5})
    setup = await h.cases.auto_annotation.configure("p1", [binding], rules, "dana")
    assert setup.rules.version == 2
    assert await h.cases.auto_annotation.setup(PROJECT) == setup
    assert label_maps(setup) == {TOPICS: {"sports": "sports"}}
    [configured] = h.uow.emitted("auto_annotation_configured")
    assert configured.actor.id == "dana" and configured.project_id == "p1"
    assert configured.auto_annotation_configured.rules.version == 2
    again = await h.cases.auto_annotation.configure("p1", [], AutoAnnotationRules(), "dana")
    assert again.rules.version == 3


async def test_configure_refuses_unsound_rules_and_bindings(tmp_path: Path) -> None:
    h = harness(tmp_path)
    await known(h)
    configure = h.cases.auto_annotation.configure
    cases = [
        ([], AutoAnnotationRules(floor=1.5), "rules.floor"),
        (
            [],
            AutoAnnotationRules(class_min_confidence={"other": 0.5}),
            "rules.class_min_confidence[other]",
        ),
        ([ModelBinding(model_id="nothing")], AutoAnnotationRules(), "models[0].model_id"),
        ([ModelBinding(model_id=BOXES)], AutoAnnotationRules(), "models[0].model_id"),
        (
            [ModelBinding(model_id=TOPICS, label_map={"sports": "football"})],
            AutoAnnotationRules(),
            "models[0].label_map[sports]",
        ),
    ]
    for models, rules, field in cases:
        with pytest.raises(InvalidField) as invalid:
            await configure("p1", models, rules, "dana")
        assert invalid.value.field == field
    with pytest.raises(NotFound):
        await configure("p9", [], AutoAnnotationRules(), "dana")
    assert h.uow.outbox == []


async def test_configure_over_a_version_changed_meanwhile_is_a_conflict(tmp_path: Path) -> None:
    h = harness(tmp_path)
    await known(h)
    cases = h.cases.auto_annotation
    stale = await cases.setup(PROJECT)

    class Racing:
        """The setup read by configure is stale: another writer got version 2 in first."""

        async def get(self, project_id: str) -> AutoAnnotationSetup | None:
            return stale

        async def replace(self, *args: object, **kwargs: object) -> bool:
            return await h.repositories.setups.replace(*args, **kwargs)  # type: ignore[arg-type]

    async with h.uow.begin() as tx:
        await h.repositories.setups.replace(
            tx, "p1", AutoAnnotationSetup((), AutoAnnotationRules(version=2)), 1
        )
    cases.setups = Racing()
    with pytest.raises(Conflict, match="changed meanwhile"):
        await cases.configure("p1", [], AutoAnnotationRules(), "dana")
    assert h.uow.emitted("auto_annotation_configured") == []
