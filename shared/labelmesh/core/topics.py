"""Topic names. Every topic is `<prefix>.<family>`; the prefix comes from
`LABELMESH_TOPIC_PREFIX` so that tests and tenants can run side by side."""

from __future__ import annotations

from dataclasses import dataclass

PROJECTS = "projects"
ITEMS = "items"
PREDICTIONS = "predictions"
ANNOTATIONS = "annotations"
REVIEWS = "reviews"
ACCESS = "access"
DATASETS = "datasets"
DEAD_LETTER = "dead-letter"

FAMILIES = (PROJECTS, ITEMS, PREDICTIONS, ANNOTATIONS, REVIEWS, ACCESS, DATASETS)

# Event family of every payload, by the payload's message name.
FAMILY_OF_EVENT = {
    "ProjectCreated": PROJECTS,
    "ItemIngested": ITEMS,
    "IngestRejected": ITEMS,
    "PredictionCreated": PREDICTIONS,
    "AnnotationAutoAccepted": PREDICTIONS,
    "PredictionFailed": PREDICTIONS,
    "AutoAnnotationConfigured": PROJECTS,
    "SuggestionAccepted": ANNOTATIONS,
    "SuggestionRejected": ANNOTATIONS,
    "TaskCreated": ANNOTATIONS,
    "AnnotationSubmitted": ANNOTATIONS,
    "ReviewDecided": REVIEWS,
    "ItemCompleted": REVIEWS,
    "ReviewPolicyConfigured": PROJECTS,
    "GoldStandardSet": REVIEWS,
    "ReviewRequested": REVIEWS,
    "AdjudicationRequested": REVIEWS,
    "AdjudicationDecided": REVIEWS,
    "QualityScored": REVIEWS,
    "AnnotatorFlagged": REVIEWS,
    "ItemFlagged": REVIEWS,
    "ApiKeyCreated": ACCESS,
    "ApiKeyRevoked": ACCESS,
    "MembershipChanged": ACCESS,
    "AccessDenied": ACCESS,
    "AuditLogExported": ACCESS,
    "DatasetVersionCreated": DATASETS,
    "ItemDeleted": ITEMS,
}


@dataclass(frozen=True)
class Topics:
    """Resolves families to full topic names under one prefix."""

    prefix: str

    def name(self, family: str) -> str:
        return f"{self.prefix}.{family}"

    def for_event(self, event_type: str) -> str:
        """The topic an event type is published on."""
        short = event_type.rsplit(".", 1)[-1]
        try:
            return self.name(FAMILY_OF_EVENT[short])
        except KeyError:
            raise ValueError(f"event type {event_type!r} has no topic family") from None

    @property
    def dead_letter(self) -> str:
        return self.name(DEAD_LETTER)

    def all(self) -> list[str]:
        return [self.name(family) for family in (*FAMILIES, DEAD_LETTER)]
