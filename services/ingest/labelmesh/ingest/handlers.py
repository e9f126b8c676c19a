"""The events the ingest service consumes: it keeps the projects it hears of."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from labelmesh.core.dispatch import EventTable, PlainFetch, on
from labelmesh.core.projects import ProjectDirectory, remember_project
from labelmesh.v1.events_pb2 import (
    AutoAnnotationConfigured,
    Envelope,
    ProjectCreated,
    ReviewPolicyConfigured,
)


@dataclass(frozen=True)
class IngestFetch(PlainFetch):
    projects: ProjectDirectory


TABLE = EventTable[IngestFetch](
    routes=[on(ProjectCreated, remember_project)],
    ignored=[AutoAnnotationConfigured, ReviewPolicyConfigured],
)


def fetch_starter(
    projects: ProjectDirectory,
) -> Callable[[Sequence[Envelope]], Awaitable[IngestFetch]]:
    async def start(_: Sequence[Envelope]) -> IngestFetch:
        return IngestFetch(projects)

    return start
