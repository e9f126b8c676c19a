"""Event handlers of the ingest service."""

from __future__ import annotations

from dataclasses import dataclass

from labelmesh.core.bus import Handler
from labelmesh.core.mongo import UnitOfWork
from labelmesh.core.topics import PROJECTS
from labelmesh.ingest.adapters.repository import IngestRepository
from labelmesh.v1.events_pb2 import Envelope, ProjectCreated

CONSUMER = "ingest"


@dataclass(frozen=True)
class Deps:
    uow: UnitOfWork
    repository: IngestRepository


async def on_project_created(deps: Deps, envelope: Envelope, event: ProjectCreated) -> None:
    await deps.repository.projects.record(deps.uow, envelope, event, CONSUMER)


CONSUMES = (PROJECTS,)
HANDLERS: dict[str, Handler] = {
    ProjectCreated.DESCRIPTOR.full_name: on_project_created,
}
