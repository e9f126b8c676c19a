"""What the annotation APIs do, shared by REST and gRPC."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from labelmesh.annotation.adapters.repository import ASSIGNED, OPEN, AnnotationRepository
from labelmesh.annotation.domain import NewProject, create_project, validate_labels
from labelmesh.annotation.metrics import AnnotationMetrics
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.core.errors import Conflict, InvalidField, NotFound
from labelmesh.core.labels import labels_from_json, labels_to_json
from labelmesh.core.mongo import Document, Transaction, UnitOfWork
from labelmesh.v1.events_pb2 import (
    AnnotationSubmitted,
    ModelRef,
    ProjectCreated,
    ProjectSpec,
    SuggestionAccepted,
    SuggestionRejected,
)
from labelmesh.v1.geometry_pb2 import Label

SERVICE = "annotation"


@dataclass(frozen=True)
class TaskView:
    """A task as an annotator sees it."""

    task_id: str
    project_id: str
    item_id: str
    data_type: int
    text: str
    media_key: str
    suggestion: list[Label]
    suggestion_model: ModelRef
    status: str
    assignee: str


def task_view(document: Document) -> TaskView:
    model = document.get("suggestion_model") or {}
    return TaskView(
        task_id=document["_id"],
        project_id=document["project_id"],
        item_id=document["item_id"],
        data_type=document.get("data_type", 0),
        text=document.get("text", ""),
        media_key=document.get("media_key", ""),
        suggestion=labels_from_json(document.get("suggestion") or []),
        suggestion_model=ModelRef(id=model.get("id", ""), version=model.get("version", "")),
        status=document["status"],
        assignee=document.get("assignee") or "",
    )


class Annotation:
    def __init__(
        self, repository: AnnotationRepository, uow: UnitOfWork, metrics: AnnotationMetrics
    ) -> None:
        self.repository = repository
        self.uow = uow
        self.metrics = metrics

    async def create_project(self, request: NewProject, user: str) -> ProjectSpec:
        project = create_project(request)
        created = new_envelope(
            ProjectCreated(project=project),
            producer=SERVICE,
            actor=user_actor(user),
            project_id=project.project_id,
        )

        async def write(tx: Transaction) -> None:
            await self.repository.insert_project(tx, project)
            tx.emit(created)

        await self.uow.run(write)
        return project

    async def get_project(self, project_id: str) -> ProjectSpec:
        project = await self.repository.get_project(project_id)
        if project is None:
            raise NotFound("project", project_id)
        return project

    async def next_task(self, project_id: str, annotator: str) -> TaskView | None:
        """The annotator's current task, or the oldest open one, now assigned to them."""
        if not annotator:
            raise InvalidField("annotator", "must not be empty")
        await self.get_project(project_id)
        document = await self.repository.assigned_task(project_id, annotator)
        if document is None:
            document = await self.repository.claim_next_task(project_id, annotator)
        return task_view(document) if document else None

    async def get_task(self, task_id: str) -> TaskView:
        document = await self.repository.get_task(task_id)
        if document is None:
            raise NotFound("task", task_id)
        return task_view(document)

    async def _open_task(self, task_id: str, annotator: str) -> TaskView:
        """The task, if `annotator` may work on it now."""
        if not annotator:
            raise InvalidField("annotator", "must not be empty")
        task = await self.get_task(task_id)
        if task.status not in (OPEN, ASSIGNED):
            raise Conflict(f"task {task_id!r} is {task.status}, not open for submission")
        if task.assignee and task.assignee != annotator:
            raise Conflict(f"task {task_id!r} is assigned to {task.assignee!r}")
        return task

    async def submit(self, task_id: str, annotator: str, labels: Sequence[Label]) -> str:
        """Validate and store an annotation; returns its id. Nothing is stored if invalid."""
        task = await self._open_task(task_id, annotator)
        return await self._store(task, annotator, labels, "human", [])

    async def accept_suggestions(
        self, task_id: str, suggestion_ids: Sequence[str], annotator: str
    ) -> str:
        """Turn model suggestions into the task's annotation, in one step.

        Each accepted label keeps its source (model, version, original score)
        and records who accepted it. Suggestions left out count as rejected.
        """
        task = await self._open_task(task_id, annotator)
        offered = {label.source.suggestion_id: label for label in task.suggestion}
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
            label.source.accepted_by = annotator
            accepted.append(label)
        judged: list[SuggestionAccepted | SuggestionRejected] = [
            SuggestionRejected(
                suggestion_id=suggestion_id,
                task_id=task_id,
                label=label,
                rejected_by=annotator,
                reason="not accepted",
            )
            for suggestion_id, label in offered.items()
            if suggestion_id not in chosen
        ]
        annotation_id = await self._store(task, annotator, accepted, "suggestion", judged)
        self.metrics.suggestions.labels("accepted").inc(len(accepted))
        self.metrics.suggestions.labels("rejected").inc(len(judged))
        return annotation_id

    async def reject_suggestion(
        self, task_id: str, suggestion_id: str, annotator: str, reason: str
    ) -> None:
        """Take a suggestion off the task; the task stays open for the annotator."""
        task = await self._open_task(task_id, annotator)
        rejected = next(
            (s for s in task.suggestion if s.source.suggestion_id == suggestion_id), None
        )
        if rejected is None or not suggestion_id:
            raise NotFound("suggestion on this task", suggestion_id)
        remaining = [s for s in task.suggestion if s.source.suggestion_id != suggestion_id]
        event = new_envelope(
            SuggestionRejected(
                suggestion_id=suggestion_id,
                task_id=task_id,
                label=rejected,
                rejected_by=annotator,
                reason=reason.strip(),
            ),
            producer=SERVICE,
            actor=user_actor(annotator),
            project_id=task.project_id,
            item_id=task.item_id,
        )

        async def write(tx: Transaction) -> None:
            if not await self.repository.replace_suggestions(tx, task_id, remaining):
                raise Conflict(f"task {task_id!r} was submitted meanwhile")
            tx.emit(event)

        await self.uow.run(write)
        self.metrics.suggestions.labels("rejected").inc()

    async def _store(
        self,
        task: TaskView,
        annotator: str,
        labels: Sequence[Label],
        source: str,
        judged: Sequence[SuggestionAccepted | SuggestionRejected],
    ) -> str:
        project = await self.get_project(task.project_id)
        try:
            validate_labels(labels, project, task.data_type, task.text)
        except InvalidField as exc:
            self.metrics.rejected_submissions.labels(exc.field.rsplit(".", 1)[-1]).inc()
            raise
        annotation_id = str(uuid.uuid4())
        payloads: list[AnnotationSubmitted | SuggestionAccepted | SuggestionRejected] = [
            AnnotationSubmitted(
                annotation_id=annotation_id,
                task_id=task.task_id,
                annotator=annotator,
                labels=labels,
                suggestion=task.suggestion,
                suggestion_model=task.suggestion_model,
            )
        ]
        if source == "suggestion":
            payloads += [
                SuggestionAccepted(
                    suggestion_id=label.source.suggestion_id,
                    task_id=task.task_id,
                    annotation_id=annotation_id,
                    label=label,
                    accepted_by=annotator,
                )
                for label in labels
            ]
        payloads += judged
        events = [
            new_envelope(
                payload,
                producer=SERVICE,
                actor=user_actor(annotator),
                project_id=task.project_id,
                item_id=task.item_id,
            )
            for payload in payloads
        ]
        annotation = {
            "_id": annotation_id,
            "task_id": task.task_id,
            "item_id": task.item_id,
            "project_id": task.project_id,
            "annotator": annotator,
            "source": source,
            "labels": labels_to_json(labels),
        }

        async def write(tx: Transaction) -> None:
            if not await self.repository.mark_submitted(tx, task.task_id, annotator):
                raise Conflict(f"task {task.task_id!r} was submitted or reassigned meanwhile")
            await self.repository.insert_annotations(tx, [annotation])
            tx.emit(*events)

        await self.uow.run(write)
        self.metrics.annotations.labels(source).inc()
        return annotation_id

    async def item_annotations(self, item_id: str) -> list[Document]:
        """Every annotation of an item, human or model, oldest first."""
        return await self.repository.annotations_of_item(item_id)
