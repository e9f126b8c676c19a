"""The ingest service's event table on the in-memory twins."""

from __future__ import annotations

from labelmesh.core.dispatch import Dispatcher
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.core.topics import PROJECTS
from labelmesh.ingest import handlers
from labelmesh.testing.memory import InMemoryProjectDirectory, InMemoryUnitOfWork, MemoryState
from labelmesh.v1.events_pb2 import ProjectCreated, ProjectSpec


def test_ingest_consumes_projects_only() -> None:
    assert handlers.TABLE.families == [PROJECTS]


async def test_a_project_is_remembered_once_however_often_it_arrives() -> None:
    state = MemoryState()
    projects = InMemoryProjectDirectory(state)
    uow = InMemoryUnitOfWork(state)
    events = Dispatcher(handlers.TABLE, uow, "ingest", handlers.fetch_starter(projects))
    created = new_envelope(
        ProjectCreated(project=ProjectSpec(project_id="p1", name="news")),
        producer="annotation",
        actor=user_actor("lead"),
        project_id="p1",
    )
    await events.handle([created])
    async with uow.begin() as tx:
        await projects.save(tx, ProjectSpec(project_id="p1", name="renamed"))
    await events.handle([created])
    stored = await projects.get("p1")
    assert stored is not None and stored.name == "renamed"
