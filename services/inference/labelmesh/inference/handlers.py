"""Event handlers of the inference service."""

from __future__ import annotations

from dataclasses import dataclass

from labelmesh.core.bus import Handler
from labelmesh.core.topics import ITEMS, PROJECTS
from labelmesh.inference.usecases import SERVICE, Inference
from labelmesh.v1.events_pb2 import Envelope, ItemIngested, ProjectCreated


@dataclass(frozen=True)
class Deps:
    inference: Inference


async def on_project_created(deps: Deps, envelope: Envelope, event: ProjectCreated) -> None:
    async with deps.inference.uow.begin() as tx:
        if await tx.claim_event(envelope.event_id, SERVICE):
            await deps.inference.repository.save_project(tx, event.project)


async def on_item_ingested(deps: Deps, envelope: Envelope, event: ItemIngested) -> None:
    await deps.inference.prelabel(envelope, event)


CONSUMES = (PROJECTS, ITEMS)
HANDLERS: dict[str, Handler] = {
    ProjectCreated.DESCRIPTOR.full_name: on_project_created,
    ItemIngested.DESCRIPTOR.full_name: on_item_ingested,
}
