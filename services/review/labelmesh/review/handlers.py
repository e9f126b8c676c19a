"""Event handlers of the review service."""

from __future__ import annotations

from dataclasses import dataclass

from labelmesh.core.bus import Handler
from labelmesh.core.topics import ANNOTATIONS, PREDICTIONS, PROJECTS
from labelmesh.review.usecases import SERVICE, Review
from labelmesh.v1.events_pb2 import (
    AnnotationAutoAccepted,
    AnnotationSubmitted,
    Envelope,
    ProjectCreated,
)


@dataclass(frozen=True)
class Deps:
    review: Review


async def on_project_created(deps: Deps, envelope: Envelope, event: ProjectCreated) -> None:
    async with deps.review.uow.begin() as tx:
        if await tx.claim_event(envelope.event_id, SERVICE):
            await deps.review.repository.save_project(tx, event.project)


async def on_annotation_submitted(
    deps: Deps, envelope: Envelope, event: AnnotationSubmitted
) -> None:
    await deps.review.review_submission(envelope, event)


async def on_auto_accepted(deps: Deps, envelope: Envelope, event: AnnotationAutoAccepted) -> None:
    await deps.review.review_auto_accepted(envelope, event)


CONSUMES = (PROJECTS, PREDICTIONS, ANNOTATIONS)
HANDLERS: dict[str, Handler] = {
    ProjectCreated.DESCRIPTOR.full_name: on_project_created,
    AnnotationSubmitted.DESCRIPTOR.full_name: on_annotation_submitted,
    AnnotationAutoAccepted.DESCRIPTOR.full_name: on_auto_accepted,
}
