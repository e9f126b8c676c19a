"""The project repository contract, against the twin and SecantusDB."""

from __future__ import annotations

import pytest

from labelmesh.annotation.ports import ProjectRepository
from labelmesh.core.errors import Conflict
from labelmesh.testing.backends import Backend
from labelmesh.v1.events_pb2 import DataType, ModelBinding, ProjectSpec, ReviewPolicy


def project(project_id: str = "p1", organization: str = "", **policy: int) -> ProjectSpec:
    return ProjectSpec(
        project_id=project_id,
        organization_id=organization,
        name="news",
        data_type=DataType.DATA_TYPE_TEXT,
        classes=["sports", "politics"],
        auto_accept_threshold=0.9,
        models=[ModelBinding(model_id="m", label_map={"a": "sports"})],
        review_policy=ReviewPolicy(version=1, **policy),
    )


async def test_a_project_round_trips_and_its_id_is_taken_once(
    backend: Backend, projects: ProjectRepository
) -> None:
    async with backend.uow.begin() as tx:
        await projects.insert(tx, project(overlap=2))
    assert await projects.get("p1") == project(overlap=2)
    assert await projects.get("nope") is None
    with pytest.raises(Conflict):
        async with backend.uow.begin() as tx:
            await projects.insert(tx, project())
    assert await projects.get("p1") == project(overlap=2)


async def test_overlaps_leave_unknown_projects_out(
    backend: Backend, projects: ProjectRepository
) -> None:
    async with backend.uow.begin() as tx:
        await projects.insert(tx, project("p1", overlap=3))
        await projects.insert(tx, project("p2"))
        assert await projects.overlaps(tx, ["p1", "p2", "p1", "nope"]) == {"p1": 3, "p2": 1}


async def test_only_a_newer_review_policy_is_kept(
    backend: Backend, projects: ProjectRepository
) -> None:
    async with backend.uow.begin() as tx:
        await projects.insert(tx, project(overlap=2))
        newer = ReviewPolicy(version=2, overlap=4)
        assert await projects.update_review_policy(tx, "p1", newer)
        assert not await projects.update_review_policy(tx, "p1", ReviewPolicy(version=2))
        assert not await projects.update_review_policy(tx, "p1", ReviewPolicy(version=1))
        assert not await projects.update_review_policy(tx, "nope", ReviewPolicy(version=9))
    stored = await projects.get("p1")
    assert stored is not None and stored.review_policy == ReviewPolicy(version=2, overlap=4)
    assert stored.name == "news"


async def test_a_failed_transaction_stores_no_project(
    backend: Backend, projects: ProjectRepository
) -> None:
    with pytest.raises(RuntimeError):
        async with backend.uow.begin() as tx:
            await projects.insert(tx, project())
            raise RuntimeError("boom")
    assert await projects.get("p1") is None


async def test_projects_are_listed_by_organisation_in_creation_order(
    backend: Backend, projects: ProjectRepository
) -> None:
    async with backend.uow.begin() as tx:
        for n in range(5):
            await projects.insert(tx, project(f"a{n}", "acme"))
        await projects.insert(tx, project("old"))  # before organisations: the default one
        await projects.insert(tx, project("b0", "other"))
    assert (await projects.listed("acme"), await projects.listed("default")) == (5, 1)
    assert await projects.listed("nobody") == 0
    window = await projects.window("acme", 1, 4)
    assert [(p.position, p.project.project_id) for p in window] == [(3, "a3"), (2, "a2"), (1, "a1")]
    assert [p.project.project_id for p in await projects.window("other", 0, 10)] == ["b0"]
    found = await projects.by_ids(["a4", "b0", "nope", "a4"])
    assert sorted((p.project.project_id, p.position) for p in found) == [("a4", 4), ("b0", 0)]


async def test_a_failed_transaction_takes_no_place_in_the_list(
    backend: Backend, projects: ProjectRepository
) -> None:
    async with backend.uow.begin() as tx:
        await projects.insert(tx, project("a0", "acme"))
    with pytest.raises(Conflict):
        async with backend.uow.begin() as tx:
            await projects.insert(tx, project("a0", "acme"))
    async with backend.uow.begin() as tx:
        await projects.insert(tx, project("a1", "acme"))
    assert [p.position for p in await projects.window("acme", 0, 5)] == [1, 0]
