"""Event handlers of the inference service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labelmesh.core.bus import Handler
from labelmesh.core.envelopes import payload_of
from labelmesh.core.topics import ANNOTATIONS, ITEMS, PROJECTS
from labelmesh.inference.usecases import SERVICE, Inference
from labelmesh.v1.events_pb2 import (
    Envelope,
    ItemIngested,
    ProjectCreated,
    SuggestionAccepted,
    SuggestionRejected,
)


@dataclass(frozen=True)
class Deps:
    inference: Inference


async def on_project_created(deps: Deps, envelope: Envelope, event: ProjectCreated) -> None:
    await deps.inference.repository.projects.record(deps.inference.uow, envelope, event, SERVICE)


async def on_event(deps: Deps, envelope: Envelope, _: Any) -> None:
    await on_fetch(deps, [envelope])


async def on_fetch(deps: Deps, envelopes: list[Envelope]) -> None:
    """A whole fetch: projects first, then every new item in batched model
    calls, then the suggestions people judged."""
    arrivals = []
    judged: list[tuple[Envelope, SuggestionAccepted | SuggestionRejected]] = []
    for envelope in envelopes:
        payload = payload_of(envelope)
        if isinstance(payload, ProjectCreated):
            await on_project_created(deps, envelope, payload)
        elif isinstance(payload, ItemIngested):
            arrivals.append((envelope, payload))
        elif isinstance(payload, SuggestionAccepted | SuggestionRejected):
            judged.append((envelope, payload))
    if arrivals:
        await deps.inference.prelabel(arrivals)
    if judged:
        await deps.inference.record_judgements(judged)


CONSUMES = (PROJECTS, ITEMS, ANNOTATIONS)
HANDLERS: dict[str, Handler] = {
    ProjectCreated.DESCRIPTOR.full_name: on_project_created,
    ItemIngested.DESCRIPTOR.full_name: on_event,
    SuggestionAccepted.DESCRIPTOR.full_name: on_event,
    SuggestionRejected.DESCRIPTOR.full_name: on_event,
}
