"""Annotations made in another tool that come in with their item (ItemIngested's
`imported_annotations`).

Each one is checked against the project's schema, fills a free slot of the
item's task in its current round, is stored as an annotation of the task
(source `imported`, with the tool, the tool's name for its annotator and its
time there as its origin) and is announced as AnnotationSubmitted, so that
review takes it like any annotation. Its id is derived from the item, the
tool and its id there (or its place in the list), so an ItemIngested handled
again adds nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC

from labelmesh.annotation.config import SERVICE
from labelmesh.annotation.domain import validate_labels
from labelmesh.annotation.ports import AnnotationRepository, ProjectRepository
from labelmesh.annotation.records import AnnotationSource, ImportedWork, StoredAnnotation, Task
from labelmesh.annotation.task_events import TaskEvents
from labelmesh.core.envelopes import new_envelope
from labelmesh.core.errors import InvalidField
from labelmesh.core.uow import Transaction
from labelmesh.v1.events_pb2 import (
    AnnotationSubmitted,
    Envelope,
    ImportedAnnotation,
    ItemIngested,
    ProjectSpec,
)

log = logging.getLogger(__name__)

# The namespace of imported annotations' ids (uuid5).
IMPORTED_IDS = uuid.UUID("5b0f6f2e-3c1d-4f7a-9a57-0d6b1e0c9a41")


def imported_annotation_id(item_id: str, tool: str, origin_id: str, index: int) -> str:
    """The id of an item's imported annotation: the same each time it is imported."""
    key = origin_id or f"#{index}"
    return str(uuid.uuid5(IMPORTED_IDS, f"{item_id}\n{tool}\n{key}"))


@dataclass(frozen=True)
class Candidate:
    """One imported annotation of an arriving item."""

    annotation_id: str
    envelope: Envelope
    item: ItemIngested
    imported: ImportedAnnotation


def candidates(arrivals: Sequence[tuple[Envelope, ItemIngested]]) -> list[Candidate]:
    """Every imported annotation of the arrivals, each id once, in arrival order."""
    found: dict[str, Candidate] = {}
    for envelope, item in arrivals:
        for index, imported in enumerate(item.imported_annotations):
            annotation_id = imported_annotation_id(
                envelope.item_id, item.source, imported.origin_id, index
            )
            found.setdefault(annotation_id, Candidate(annotation_id, envelope, item, imported))
    return list(found.values())


def stored(candidate: Candidate, task: Task) -> StoredAnnotation:
    envelope, imported = candidate.envelope, candidate.imported
    return StoredAnnotation(
        annotation_id=candidate.annotation_id,
        task_id=task.task_id,
        item_id=envelope.item_id,
        project_id=envelope.project_id,
        annotator=envelope.actor.id,
        source=AnnotationSource.IMPORTED,
        labels=tuple(imported.labels),
        round=task.round,
        origin=candidate.item.source,
        origin_annotator=imported.annotator,
        origin_created_at=imported.created_at.ToDatetime(UTC)
        if imported.HasField("created_at")
        else None,
        origin_id=imported.origin_id,
    )


def submitted(candidate: Candidate, task: Task, in_round: int) -> Envelope:
    """AnnotationSubmitted for the imported annotation, acted by whoever imported it.

    The round expects at least the task's overlap, and every imported annotation
    of the item when the import brought more."""
    envelope, imported = candidate.envelope, candidate.imported
    event = AnnotationSubmitted(
        annotation_id=candidate.annotation_id,
        task_id=task.task_id,
        annotator=envelope.actor.id,
        labels=imported.labels,
        round=task.round,
        overlap=max(task.overlap, in_round),
        origin=candidate.item.source,
        origin_annotator=imported.annotator,
        origin_id=imported.origin_id,
    )
    if imported.HasField("created_at"):
        event.origin_created_at.CopyFrom(imported.created_at)
    return new_envelope(
        event,
        producer=SERVICE,
        actor=envelope.actor,
        project_id=envelope.project_id,
        item_id=envelope.item_id,
        trace_id=envelope.trace_id,
    )


@dataclass
class Taken:
    """What taking in a fetch's imports did, for the metrics once committed."""

    stored: int = 0
    refused: Counter[str] = field(default_factory=Counter)


@dataclass(eq=False)
class Imports:
    projects: ProjectRepository
    tasks: TaskEvents
    annotations: AnnotationRepository

    async def take_in(
        self, tx: Transaction, arrivals: Sequence[tuple[Envelope, ItemIngested]]
    ) -> Taken:
        """Store and announce the arrivals' imported annotations not stored before.

        Their items' tasks must exist already (ItemArrived written). An annotation
        outside the project's schema is left out, logged and counted; the item's
        others still come in."""
        taken = Taken()
        every = candidates(arrivals)
        if not every:
            return taken
        known = await self.annotations.known(tx, [c.annotation_id for c in every])
        fresh = []
        for candidate in every:
            if candidate.annotation_id in known:
                continue
            reason = await self._refusal(candidate)
            if reason is None:
                fresh.append(candidate)
            else:
                taken.refused[reason] += 1
        if not fresh:
            return taken
        per_item = Counter(c.envelope.item_id for c in fresh)
        await self.tasks.apply(tx, [ImportedWork(item, n) for item, n in per_item.items()])
        tasks = await self.tasks.tasks.by_items(tx, list(per_item))
        await self.annotations.insert(tx, [stored(c, tasks[c.envelope.item_id]) for c in fresh])
        tx.emit(
            *(submitted(c, tasks[c.envelope.item_id], per_item[c.envelope.item_id]) for c in fresh)
        )
        taken.stored = len(fresh)
        return taken

    async def _refusal(self, candidate: Candidate) -> str | None:
        """Why the imported annotation cannot come in (the field at fault), if it cannot."""
        envelope, item = candidate.envelope, candidate.item
        project: ProjectSpec | None = await self.projects.get(envelope.project_id)
        if project is None:
            reason = "project"
            log.warning("imported annotation of item %s: unknown project", envelope.item_id)
            return reason
        try:
            validate_labels(candidate.imported.labels, project, item.data_type, item.text)
        except InvalidField as exc:
            log.warning(
                "imported annotation %s of item %s left out: %s: %s",
                candidate.imported.origin_id or candidate.annotation_id,
                envelope.item_id,
                exc.field,
                exc.reason,
            )
            return exc.field.rsplit(".", 1)[-1].split("[")[0]
        return None
