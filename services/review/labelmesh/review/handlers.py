"""The events the review service consumes, and the step each one takes.

Projects are kept as they are created, and memberships as they change.
Annotations (submitted by people, or auto-accepted from a model) are gathered
by the fetch and taken in together at its end, in arrival order, as one pass
over their items.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from labelmesh.core.dispatch import EventTable, on
from labelmesh.core.errors import NotFound, RetryLater
from labelmesh.core.uow import Transaction
from labelmesh.review.arrivals import Arrival, Arrivals, ModelAccepted, Submitted
from labelmesh.review.contexts import ProjectContexts
from labelmesh.review.metrics import ReviewMetrics
from labelmesh.review.pipeline import Context
from labelmesh.review.quality import Quality
from labelmesh.review.tally import Tally
from labelmesh.v1.events_pb2 import (
    AccessDenied,
    AnnotationAutoAccepted,
    AnnotationSubmitted,
    ApiKeyCreated,
    ApiKeyRevoked,
    AuditLogExported,
    AutoAnnotationConfigured,
    Envelope,
    MembershipChanged,
    PredictionCreated,
    PredictionFailed,
    ProjectCreated,
    ReviewPolicyConfigured,
    SuggestionAccepted,
    SuggestionRejected,
    TaskCreated,
)

SUBMITTED = AnnotationSubmitted.DESCRIPTOR.full_name


@dataclass
class ReviewFetch:
    """One fetch: the projects it creates are kept as they come; its annotations are
    gathered and taken in at the end."""

    arrivals: Arrivals
    quality: Quality
    contexts: Mapping[str, Context]
    tally: Tally
    gathered: list[Arrival] = field(default_factory=list)

    async def project_created(self, tx: Transaction, _: Envelope, event: ProjectCreated) -> None:
        await self.quality.remember_project(tx, event.project)

    async def membership_changed(
        self, tx: Transaction, envelope: Envelope, _: MembershipChanged
    ) -> None:
        await self.quality.remember_membership(tx, envelope)

    async def annotation_submitted(
        self, tx: Transaction, envelope: Envelope, event: AnnotationSubmitted
    ) -> None:
        self.gathered.append(Submitted(envelope, event))

    async def annotation_auto_accepted(
        self, tx: Transaction, envelope: Envelope, event: AnnotationAutoAccepted
    ) -> None:
        self.gathered.append(ModelAccepted(envelope, event))

    async def finish(self, tx: Transaction) -> None:
        await self.arrivals.take_in(tx, self.gathered, self.contexts, self.tally)

    def committed(self) -> None:
        self.tally.committed()


TABLE = EventTable[ReviewFetch](
    routes=[
        on(ProjectCreated, ReviewFetch.project_created),
        on(AnnotationSubmitted, ReviewFetch.annotation_submitted),
        on(AnnotationAutoAccepted, ReviewFetch.annotation_auto_accepted),
        on(MembershipChanged, ReviewFetch.membership_changed),
    ],
    ignored=[
        # projects: the policy is review's own; auto-annotation is inference's
        ReviewPolicyConfigured,
        AutoAnnotationConfigured,
        # predictions: only auto-accepted ones reach review
        PredictionCreated,
        PredictionFailed,
        # annotations: the annotation service's own bookkeeping
        SuggestionAccepted,
        SuggestionRejected,
        TaskCreated,
        # access: only who holds which role matters to review
        ApiKeyCreated,
        ApiKeyRevoked,
        AccessDenied,
        AuditLogExported,
    ],
)


@dataclass(frozen=True)
class FetchStarter:
    """Prepares a fetch before its transaction: the project context of every submission."""

    arrivals: Arrivals
    quality: Quality
    contexts: ProjectContexts
    metrics: ReviewMetrics

    async def __call__(self, envelopes: Sequence[Envelope]) -> ReviewFetch:
        projects = list(dict.fromkeys(e.project_id for e in envelopes if e.event_type == SUBMITTED))
        try:
            found = await asyncio.gather(*(self.contexts.context(p) for p in projects))
        except NotFound as exc:
            raise RetryLater(f"project {exc.identifier!r} not known yet") from None
        contexts = dict(zip(projects, found, strict=True))
        return ReviewFetch(self.arrivals, self.quality, contexts, Tally(self.metrics))
