"""The events the inference service consumes, and the step of each.

A fetch's new items are pre-labelled before its transaction opens (one
batched call per model for all of them); the steps then only gather what
to write, and `finish` writes it in the fetch's one transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from labelmesh.core.dispatch import EventTable, on
from labelmesh.core.projects import ProjectDirectory, remember_project
from labelmesh.core.uow import Transaction
from labelmesh.inference.feedback import Feedback, judgement_of
from labelmesh.inference.prelabel import Prelabelled, Prelabelling
from labelmesh.inference.records import Judgement
from labelmesh.v1.events_pb2 import (
    AnnotationSubmitted,
    AutoAnnotationConfigured,
    Envelope,
    IngestRejected,
    ItemDeleted,
    ItemIngested,
    ProjectCreated,
    ProjectSpec,
    ReviewPolicyConfigured,
    SuggestionAccepted,
    SuggestionRejected,
    TaskCreated,
)


@dataclass
class InferenceFetch:
    """One fetch: its items' pre-labelling, decided in `start`, and what its steps gathered."""

    projects: ProjectDirectory
    prelabelling: Prelabelling
    feedback: Feedback
    decided: dict[str, Prelabelled] = field(default_factory=dict)
    labelled: list[Prelabelled] = field(default_factory=list)
    judgements: list[Judgement] = field(default_factory=list)

    async def item_ingested(self, tx: Transaction, envelope: Envelope, _: ItemIngested) -> None:
        self.labelled.append(self.decided[envelope.event_id])

    async def suggestion_accepted(
        self, tx: Transaction, envelope: Envelope, event: SuggestionAccepted
    ) -> None:
        self._judged(event)

    async def suggestion_rejected(
        self, tx: Transaction, envelope: Envelope, event: SuggestionRejected
    ) -> None:
        self._judged(event)

    def _judged(self, event: SuggestionAccepted | SuggestionRejected) -> None:
        judgement = judgement_of(event)
        if judgement is not None:
            self.judgements.append(judgement)

    async def finish(self, tx: Transaction) -> None:
        if self.labelled:
            self.labelled = await self.prelabelling.record(tx, self.labelled)
        if self.judgements:
            await self.feedback.record(tx, self.judgements)

    def committed(self) -> None:
        self.prelabelling.counted(self.labelled)
        self.feedback.counted(self.judgements)


TABLE = EventTable[InferenceFetch](
    routes=[
        on(ProjectCreated, remember_project),
        on(ItemIngested, InferenceFetch.item_ingested),
        on(SuggestionAccepted, InferenceFetch.suggestion_accepted),
        on(SuggestionRejected, InferenceFetch.suggestion_rejected),
    ],
    ignored=[
        AutoAnnotationConfigured,
        ReviewPolicyConfigured,
        IngestRejected,
        ItemDeleted,
        TaskCreated,
        AnnotationSubmitted,
    ],
)


def fetch_starter(
    projects: ProjectDirectory, prelabelling: Prelabelling, feedback: Feedback
) -> Callable[[Sequence[Envelope]], Awaitable[InferenceFetch]]:
    """The dispatcher's `start`: pre-label the fetch's items before its transaction."""

    async def start(envelopes: Sequence[Envelope]) -> InferenceFetch:
        announced: dict[str, ProjectSpec] = {}
        arrivals: list[tuple[Envelope, ItemIngested]] = []
        for envelope in envelopes:
            kind = envelope.WhichOneof("payload")
            if kind == "project_created":
                announced[envelope.project_created.project.project_id] = (
                    envelope.project_created.project
                )
            elif kind == "item_ingested":
                arrivals.append((envelope, envelope.item_ingested))
        decided = await prelabelling.prelabel(arrivals, announced) if arrivals else {}
        return InferenceFetch(projects, prelabelling, feedback, decided)

    return start
