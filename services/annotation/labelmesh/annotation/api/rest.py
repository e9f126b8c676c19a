"""REST adapter of the annotation service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from labelmesh.annotation.domain import NewProject
from labelmesh.annotation.usecases import Annotation
from labelmesh.annotation.views import TaskView
from labelmesh.core.api import UserHeader
from labelmesh.core.labels import (
    data_type_from_name,
    data_type_name,
    labels_from_json,
    labels_to_json,
    message_from_json,
    message_to_json,
)
from labelmesh.v1.events_pb2 import AutoAnnotationRules, ModelBinding, ProjectSpec, ReviewPolicy


class ProjectRequest(BaseModel):
    name: str
    data_type: str = Field(examples=["TEXT"])
    classes: list[str]
    auto_accept_threshold: float = 0.9
    review_min_agreement: float = 0.0
    models: list[dict[str, Any]] = Field(
        default=[], examples=[[{"model_id": "mediapipe-face-detection"}]]
    )
    auto_annotation: dict[str, Any] | None = Field(
        default=None,
        examples=[{"default_min_confidence": 0.95, "class_min_confidence": {}, "floor": 0.3}],
    )
    review_policy: dict[str, Any] | None = Field(
        default=None, examples=[{"overlap": 3, "gold_ratio": 0.1, "consensus_threshold": 0.7}]
    )


class NextTaskRequest(BaseModel):
    annotator: str = Field(min_length=1, max_length=200)


class AcceptRequest(BaseModel):
    annotator: str = Field(min_length=1, max_length=200)
    suggestion_ids: list[str] = []


class RejectRequest(BaseModel):
    annotator: str = Field(min_length=1, max_length=200)
    reason: str = Field(default="", max_length=1000)


class AnnotationRequest(BaseModel):
    annotator: str = Field(min_length=1, max_length=200)
    labels: list[dict[str, Any]]


def project_json(project: ProjectSpec) -> dict[str, Any]:
    return {
        "project_id": project.project_id,
        "name": project.name,
        "data_type": data_type_name(project.data_type),
        "classes": list(project.classes),
        "auto_accept_threshold": project.auto_accept_threshold,
        "review_min_agreement": project.review_min_agreement,
        "models": [message_to_json(b) for b in project.models],
        "auto_annotation": message_to_json(project.auto_annotation)
        if project.HasField("auto_annotation")
        else None,
        "review_policy": message_to_json(project.review_policy)
        if project.HasField("review_policy")
        else None,
    }


def task_json(task: TaskView) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "project_id": task.project_id,
        "item_id": task.item_id,
        "data_type": data_type_name(task.data_type),
        "text": task.text,
        "media_key": task.media_key,
        "suggestion": labels_to_json(task.suggestion),
        "suggestion_model": {
            "id": task.suggestion_model.id,
            "version": task.suggestion_model.version,
        },
        "status": task.status,
        "assignee": task.assignee,
        "assignees": task.assignees,
    }


def router(annotation: Annotation) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["annotation"])

    @api.post("/projects", status_code=201)
    async def create_project(request: ProjectRequest, user: UserHeader = "api") -> dict[str, Any]:
        project = await annotation.create_project(
            NewProject(
                name=request.name,
                data_type=data_type_from_name(request.data_type),
                classes=request.classes,
                auto_accept_threshold=request.auto_accept_threshold,
                review_min_agreement=request.review_min_agreement,
                models=[
                    message_from_json(raw, ModelBinding(), f"models[{index}]")
                    for index, raw in enumerate(request.models)
                ],
                auto_annotation=message_from_json(
                    request.auto_annotation, AutoAnnotationRules(), "auto_annotation"
                )
                if request.auto_annotation is not None
                else None,
                review_policy=message_from_json(
                    request.review_policy, ReviewPolicy(), "review_policy"
                )
                if request.review_policy is not None
                else None,
            ),
            user,
        )
        return project_json(project)

    @api.get("/projects/{project_id}")
    async def get_project(project_id: str) -> dict[str, Any]:
        return project_json(await annotation.get_project(project_id))

    @api.get("/projects/{project_id}/queue")
    async def queue_stats(project_id: str) -> dict[str, int]:
        """Regular tasks by status, and gold tasks."""
        return await annotation.queue_stats(project_id)

    @api.post("/projects/{project_id}/tasks/next", response_model=None)
    async def next_task(project_id: str, request: NextTaskRequest) -> dict[str, Any] | Response:
        """Assign the next task; 204 when the queue is empty."""
        task = await annotation.next_task(project_id, request.annotator)
        return task_json(task) if task else Response(status_code=204)

    @api.get("/tasks/{task_id}")
    async def get_task(task_id: str, annotator: str = "") -> dict[str, Any]:
        """The task; `annotator` shows it as that annotator sees their own task."""
        return task_json(await annotation.get_task(task_id, annotator))

    @api.post("/tasks/{task_id}/annotations", status_code=201)
    async def submit(task_id: str, request: AnnotationRequest) -> dict[str, str]:
        labels = labels_from_json(request.labels)
        annotation_id = await annotation.submit(task_id, request.annotator, labels)
        return {"annotation_id": annotation_id}

    @api.post("/tasks/{task_id}/suggestions/accept", status_code=201)
    async def accept_suggestions(task_id: str, request: AcceptRequest) -> dict[str, str]:
        """One click: the chosen suggestions (all when none is named) become the annotation."""
        annotation_id = await annotation.accept_suggestions(
            task_id, request.suggestion_ids, request.annotator
        )
        return {"annotation_id": annotation_id}

    @api.post("/tasks/{task_id}/suggestions/{suggestion_id}/reject", status_code=204)
    async def reject_suggestion(task_id: str, suggestion_id: str, request: RejectRequest) -> None:
        await annotation.reject_suggestion(
            task_id, suggestion_id, request.annotator, request.reason
        )

    @api.get("/items/{item_id}/annotations")
    async def item_annotations(item_id: str) -> dict[str, Any]:
        stored = await annotation.item_annotations(item_id)
        return {
            "annotations": [
                {
                    "annotation_id": a.annotation_id,
                    "task_id": a.task_id,
                    "annotator": a.annotator,
                    "source": str(a.source),
                    "labels": labels_to_json(a.labels),
                    "decision": str(a.decision or ""),
                    "rule_version": a.rule_version,
                    "created_at": a.created_at.isoformat() if a.created_at else "",
                }
                for a in stored
            ]
        }

    return api
