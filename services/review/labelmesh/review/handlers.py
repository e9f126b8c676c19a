"""Event handlers of the review service."""

from __future__ import annotations

from dataclasses import dataclass

from labelmesh.core.bus import Handler
from labelmesh.core.envelopes import payload_of
from labelmesh.core.topics import ANNOTATIONS, PREDICTIONS, PROJECTS
from labelmesh.review.quality import Quality
from labelmesh.review.usecases import Review, Reviewable
from labelmesh.v1.events_pb2 import (
    AnnotationAutoAccepted,
    AnnotationSubmitted,
    Envelope,
    ProjectCreated,
)


@dataclass(frozen=True)
class Deps:
    review: Review
    quality: Quality


async def on_project_created(deps: Deps, envelope: Envelope, event: ProjectCreated) -> None:
    await deps.quality.on_project_created(envelope, event)


async def on_annotation(deps: Deps, envelope: Envelope, event: Reviewable) -> None:
    await deps.review.review([(envelope, event)])


async def on_fetch(deps: Deps, envelopes: list[Envelope]) -> None:
    """A whole fetch: projects first, then every annotation in one transaction."""
    arrivals: list[tuple[Envelope, Reviewable]] = []
    for envelope in envelopes:
        payload = payload_of(envelope)
        if isinstance(payload, ProjectCreated):
            await on_project_created(deps, envelope, payload)
        elif isinstance(payload, AnnotationSubmitted | AnnotationAutoAccepted):
            arrivals.append((envelope, payload))
    if arrivals:
        await deps.review.review(arrivals)


CONSUMES = (PROJECTS, PREDICTIONS, ANNOTATIONS)
HANDLERS: dict[str, Handler] = {
    ProjectCreated.DESCRIPTOR.full_name: on_project_created,
    AnnotationSubmitted.DESCRIPTOR.full_name: on_annotation,
    AnnotationAutoAccepted.DESCRIPTOR.full_name: on_annotation,
}
