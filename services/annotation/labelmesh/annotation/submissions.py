"""Work handed in on a task: labels, accepted suggestions, rejected suggestions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from labelmesh.annotation.config import SERVICE
from labelmesh.annotation.domain import validate_labels
from labelmesh.annotation.metrics import AnnotationMetrics
from labelmesh.annotation.ports import AnnotationStores
from labelmesh.annotation.queue import (
    IN_PROGRESS,
    TaskView,
    seconds_spent,
    takes_directly,
    task_view,
)
from labelmesh.annotation.records import (
    AnnotationSource,
    Changed,
    StoredAnnotation,
    Task,
    TaskStatus,
)
from labelmesh.annotation.task_changes import dismissed, handed_in
from labelmesh.core.access import ProjectCheck, ref_of
from labelmesh.core.envelopes import Acting, acting_actor, new_envelope
from labelmesh.core.errors import Conflict, Forbidden, InvalidField, NotFound
from labelmesh.core.grouping import GroupCommit
from labelmesh.core.uow import Transaction
from labelmesh.v1.events_pb2 import (
    Actor,
    AnnotationSubmitted,
    Envelope,
    SuggestionAccepted,
    SuggestionRejected,
)
from labelmesh.v1.geometry_pb2 import Label


@dataclass(frozen=True)
class Workable:
    """A task the annotator may submit now, as they see it."""

    view: TaskView
    # An overlap-1 task nobody took: submitting takes its slot in the same step.
    direct: bool


@dataclass(frozen=True)
class HandedIn:
    seconds_spent: float
    gold: bool


def workable(task: Task | None, task_id: str, annotator: str) -> Workable:
    """The task, if `annotator` may work on it now; raises why not."""
    if task is None:
        raise NotFound("task", task_id)
    if task.status == TaskStatus.CANCELLED:
        raise Conflict(f"task {task_id!r} is cancelled: its item was deleted")
    view = task_view(task, annotator)
    if annotator in task.assigned:
        return Workable(view, direct=False)
    if takes_directly(task):
        return Workable(view, direct=True)
    if annotator in task.submitted:
        raise Conflict(f"{annotator!r} already submitted task {task_id!r}")
    if view.status not in IN_PROGRESS:
        raise Conflict(f"task {task_id!r} is {view.status}, not open for submission")
    if view.status == TaskStatus.ASSIGNED and view.assignees:
        holders = ", ".join(repr(holder) for holder in view.assignees)
        raise Conflict(f"task {task_id!r} is assigned to {holders}")
    raise Conflict(f"task {task_id!r} is not assigned to {annotator!r}; take it with NextTask")


@dataclass(frozen=True)
class HandIn:
    """Work on a task, to be handed in with others that arrive at once.

    It is checked in the group's transaction, against the task as read there, so
    that a plain submission costs no read of its own. Accepted suggestions come
    `checked`, since they were chosen from the task read before; their labels are
    checked in the group all the same.
    """

    task_id: str
    actor: Actor
    labels: tuple[Label, ...]
    source: AnnotationSource
    judged: tuple[SuggestionAccepted | SuggestionRejected, ...]
    annotation_id: str
    checked: Workable | None = None
    # The caller's authorisation on the task's project, once the task is read.
    check: ProjectCheck | None = None

    @property
    def annotator(self) -> str:
        return str(self.actor.id)

    def stored(self, work: Workable, round_: int) -> StoredAnnotation:
        task = work.view
        return StoredAnnotation(
            annotation_id=self.annotation_id,
            task_id=task.task_id,
            item_id=task.item_id,
            project_id=task.project_id,
            annotator=self.annotator,
            source=self.source,
            labels=self.labels,
            round=round_,
        )

    def events(self, work: Workable, before: Task, seconds: float) -> list[Envelope]:
        """AnnotationSubmitted, then the verdict on each suggestion."""
        view = work.view
        submitted = AnnotationSubmitted(
            annotation_id=self.annotation_id,
            task_id=view.task_id,
            annotator=self.annotator,
            labels=self.labels,
            suggestion=view.suggestion,
            suggestion_model=view.suggestion_model,
            round=before.round,
            overlap=before.overlap,
            seconds_spent=seconds,
        )
        accepted = [
            SuggestionAccepted(
                suggestion_id=label.source.suggestion_id,
                task_id=view.task_id,
                annotation_id=self.annotation_id,
                label=label,
                accepted_by=self.annotator,
            )
            for label in self.labels
            if self.source == AnnotationSource.SUGGESTION
        ]
        return [
            new_envelope(
                payload,
                producer=SERVICE,
                actor=self.actor,
                project_id=view.project_id,
                item_id=view.item_id,
            )
            for payload in (submitted, *accepted, *self.judged)
        ]


@dataclass(eq=False)
class Submissions:
    """Handing in work on a task; hand-ins that arrive together are written together."""

    stores: AnnotationStores
    metrics: AnnotationMetrics
    _group: GroupCommit[HandIn, HandedIn] = field(init=False)

    def __post_init__(self) -> None:
        self._group = GroupCommit(self._hand_in_group)

    async def workable(
        self, task_id: str, annotator: str, check: ProjectCheck | None = None
    ) -> Workable:
        """The task, if `annotator` may work on it now (and `check` allows its project)."""
        if not annotator:
            raise InvalidField("annotator", "must not be empty")
        task = await self.stores.tasks.get(task_id)
        if task is not None and check is not None:
            await self._authorize(check, task.project_id)
        return workable(task, task_id, annotator)

    async def _authorize(self, check: ProjectCheck, project_id: str) -> None:
        project = await self.stores.projects.get(project_id)
        if project is None:
            raise NotFound("project", project_id)
        check(ref_of(project))

    async def submit(
        self,
        task_id: str,
        annotator: Acting,
        labels: Sequence[Label],
        check: ProjectCheck | None = None,
    ) -> str:
        """Validate and store an annotation; returns its id. Nothing is stored if invalid."""
        actor = acting_actor(annotator)
        if not actor.id:
            raise InvalidField("annotator", "must not be empty")
        handing = HandIn(
            task_id,
            actor,
            tuple(labels),
            AnnotationSource.HUMAN,
            (),
            str(uuid.uuid4()),
            check=check,
        )
        return await self._store(handing)

    async def accept_suggestions(
        self,
        task_id: str,
        suggestion_ids: Sequence[str],
        annotator: Acting,
        check: ProjectCheck | None = None,
    ) -> str:
        """Turn model suggestions into the task's annotation, in one step.

        Each accepted label keeps its source (model, version, original score)
        and records who accepted it. Suggestions left out count as rejected.
        """
        actor = acting_actor(annotator)
        work = await self.workable(task_id, actor.id, check)
        offered = {label.source.suggestion_id: label for label in work.view.suggestion}
        offered.pop("", None)
        if not offered:
            raise Conflict(f"task {task_id!r} has no suggestions to accept")
        chosen = list(dict.fromkeys(suggestion_ids)) or list(offered)
        for index, suggestion_id in enumerate(chosen):
            if suggestion_id not in offered:
                raise InvalidField(
                    f"suggestion_ids[{index}]", f"no suggestion {suggestion_id!r} on this task"
                )
        accepted = []
        for suggestion_id in chosen:
            label = Label()
            label.CopyFrom(offered[suggestion_id])
            label.source.accepted_by = actor.id
            accepted.append(label)
        judged: list[SuggestionAccepted | SuggestionRejected] = [
            SuggestionRejected(
                suggestion_id=suggestion_id,
                task_id=task_id,
                label=label,
                rejected_by=actor.id,
                reason="not accepted",
            )
            for suggestion_id, label in offered.items()
            if suggestion_id not in chosen
        ]
        handing = HandIn(
            task_id,
            actor,
            tuple(accepted),
            AnnotationSource.SUGGESTION,
            tuple(judged),
            str(uuid.uuid4()),
            checked=work,
            check=check,
        )
        annotation_id = await self._store(handing)
        self.metrics.suggestions.labels("accepted").inc(len(accepted))
        self.metrics.suggestions.labels("rejected").inc(len(judged))
        return annotation_id

    async def reject_suggestion(
        self,
        task_id: str,
        suggestion_id: str,
        annotator: Acting,
        reason: str,
        check: ProjectCheck | None = None,
    ) -> None:
        """Take a suggestion off the task for this annotator; the task stays theirs."""
        actor = acting_actor(annotator)
        task = (await self.workable(task_id, actor.id, check)).view
        rejected = next(
            (s for s in task.suggestion if s.source.suggestion_id == suggestion_id), None
        )
        if rejected is None or not suggestion_id:
            raise NotFound("suggestion on this task", suggestion_id)
        event = new_envelope(
            SuggestionRejected(
                suggestion_id=suggestion_id,
                task_id=task_id,
                label=rejected,
                rejected_by=actor.id,
                reason=reason.strip(),
            ),
            producer=SERVICE,
            actor=actor,
            project_id=task.project_id,
            item_id=task.item_id,
        )

        async def write(tx: Transaction) -> None:
            before = (await self.stores.tasks.by_ids(tx, [task_id])).get(task_id)
            after = dismissed(before, actor.id, suggestion_id) if before else None
            if before is None or after is None:
                raise Conflict(f"task {task_id!r} was submitted meanwhile")
            await self.stores.tasks.save(tx, [Changed(before, after)])
            tx.emit(event)

        await self.stores.uow.run(write)
        self.metrics.suggestions.labels("rejected").inc()

    async def _store(self, handing: HandIn) -> str:
        try:
            handed_in = await self._group.submit(handing)
        except InvalidField as exc:
            self.metrics.rejected_submissions.labels(exc.field.rsplit(".", 1)[-1]).inc()
            raise
        self.metrics.annotations.labels(handing.source).inc()
        if handed_in.seconds_spent:
            kind = "gold" if handed_in.gold else "regular"
            self.metrics.task_seconds.labels(kind).observe(handed_in.seconds_spent)
        return handing.annotation_id

    async def _hand_in_group(self, group: list[HandIn]) -> list[HandedIn | BaseException]:
        """Every hand-in of the group in one transaction; one that may not go fails alone."""
        return await self.stores.uow.run(lambda tx: self._write_group(tx, group))

    async def _write_group(
        self, tx: Transaction, group: list[HandIn]
    ) -> list[HandedIn | BaseException]:
        before = await self.stores.tasks.by_ids(tx, [h.task_id for h in group])
        live = dict(before)
        outcomes: list[HandedIn | BaseException] = []
        stored: list[StoredAnnotation] = []
        at = datetime.now(UTC)
        for handing in group:
            task = live.get(handing.task_id)
            try:
                work = await self._work_on(task, handing)
            except (Conflict, InvalidField, NotFound, Forbidden) as exc:
                outcomes.append(exc)
                continue
            after = handed_in(task, handing.annotator, direct=work.direct) if task else None
            if task is None or after is None:
                reason = f"task {handing.task_id!r} was submitted or reassigned meanwhile"
                outcomes.append(Conflict(reason))
                continue
            live[handing.task_id] = after
            spent = seconds_spent(task.assigned_at, handing.annotator, at)
            stored.append(handing.stored(work, task.round))
            tx.emit(*handing.events(work, task, spent))
            outcomes.append(HandedIn(spent, task.gold))
        await self.stores.tasks.save(
            tx, [Changed(before[t], live[t]) for t in before if live[t] is not before[t]]
        )
        await self.stores.annotations.insert(tx, stored)
        return outcomes

    async def _work_on(self, task: Task | None, handing: HandIn) -> Workable:
        """The work as checked before, or the task as read now; either way with its
        labels checked against the project's schema."""
        if task is not None and handing.check is not None and handing.checked is None:
            await self._authorize(handing.check, task.project_id)
        work = handing.checked or workable(task, handing.task_id, handing.annotator)
        project = await self.stores.projects.get(work.view.project_id)
        if project is None:
            raise NotFound("project", work.view.project_id)
        validate_labels(handing.labels, project, work.view.data_type, work.view.text)
        return work
