"""Projects kept in memory for a moment: fresh after a change this replica made."""

from __future__ import annotations

import asyncio

from labelmesh.annotation.project_cache import CachedProjects
from labelmesh.testing.memory import InMemoryUnitOfWork, MemoryState
from labelmesh.testing.twins.annotation import InMemoryProjectRepository
from labelmesh.v1.events_pb2 import ProjectSpec, ReviewPolicy


async def name(projects: CachedProjects, project_id: str) -> str:
    project = await projects.get(project_id)
    assert project is not None
    return project.name


async def test_a_kept_project_is_served_until_its_policy_changes_here() -> None:
    state = MemoryState()
    inner = InMemoryProjectRepository(state)
    cached = CachedProjects(inner, ttl_seconds=60)
    uow = InMemoryUnitOfWork(state)
    async with uow.begin() as tx:
        await cached.insert(tx, ProjectSpec(project_id="p1", name="first"))
    assert await name(cached, "p1") == "first"
    # Another replica renames it: this one serves what it kept.
    inner.projects["p1"] = ProjectSpec(project_id="p1", name="renamed").SerializeToString()
    assert await name(cached, "p1") == "first"
    # A policy change handled here is seen at once.
    async with uow.begin() as tx:
        assert await cached.update_review_policy(tx, "p1", ReviewPolicy(version=2, overlap=3))
    fresh = await cached.get("p1")
    assert fresh is not None and (fresh.name, fresh.review_policy.overlap) == ("renamed", 3)
    assert await cached.get("missing") is None


async def test_nothing_is_kept_past_its_time() -> None:
    state = MemoryState()
    inner = InMemoryProjectRepository(state)
    cached = CachedProjects(inner, ttl_seconds=0)
    inner.projects["p1"] = ProjectSpec(project_id="p1", name="first").SerializeToString()
    assert await name(cached, "p1") == "first"
    inner.projects["p1"] = ProjectSpec(project_id="p1", name="second").SerializeToString()
    assert await name(cached, "p1") == "second"


async def test_callers_that_miss_at_once_share_one_read() -> None:
    state = MemoryState()
    inner = InMemoryProjectRepository(state)
    inner.projects["p1"] = ProjectSpec(project_id="p1", name="first").SerializeToString()
    reads = 0
    read = inner.get

    async def counted(project_id: str) -> ProjectSpec | None:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.01)
        return await read(project_id)

    inner.get = counted  # type: ignore[method-assign]
    cached = CachedProjects(inner, ttl_seconds=60)
    names = await asyncio.gather(*(name(cached, "p1") for _ in range(20)))
    assert names == ["first"] * 20
    assert reads == 1
