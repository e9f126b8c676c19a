"""The project repository contract, against the twin and SecantusDB."""

from __future__ import annotations

import pytest

from labelmesh.annotation.ports import ProjectRepository
from labelmesh.core.errors import Conflict
from labelmesh.testing.backends import Backend
from labelmesh.v1.events_pb2 import DataType, ModelBinding, ProjectSpec, ReviewPolicy


def project(project_id: str = "p1", **policy: int) -> ProjectSpec:
    return ProjectSpec(
        project_id=project_id,
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
