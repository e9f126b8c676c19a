"""REST adapter of the annotation service: the proto-JSON of the messages the
gRPC methods return (built in `views.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from labelmesh.annotation import views
from labelmesh.annotation.domain import MAX_PAGE, NewProject
from labelmesh.annotation.secured import SecuredAnnotation
from labelmesh.core.api import Caller
from labelmesh.core.fields import carry_fields
from labelmesh.core.labels import data_type_from_name
from labelmesh.core.rest_proto import ProtoField, ProtoJSON, proto_io
from labelmesh.v1 import annotation_service_pb2 as pb
from labelmesh.v1.events_pb2 import AutoAnnotationRules, ModelBinding, ReviewPolicy
from labelmesh.v1.geometry_pb2 import Label

MAX_ID = 200
# Checked by the use case, whose refusal names the field as every other one does.
PageSize = Annotated[int, Query(description=f"At most {MAX_PAGE}; 0 for the default, 50")]


class ProjectRequest(BaseModel):
    """CreateProjectRequest, with the data type also accepted without its prefix."""

    name: str
    data_type: str = Field(
        examples=["TEXT"], description="TEXT, IMAGE, AUDIO or VIDEO, with or without DATA_TYPE_"
    )
    classes: list[str]
    auto_accept_threshold: float = 0.9
    review_min_agreement: float = 0.0
    models: Annotated[list[ModelBinding], ProtoField(ModelBinding, "models")] = Field(
        default_factory=list, examples=[[{"model_id": "mediapipe-face-detection"}]]
    )
    auto_annotation: (
        Annotated[AutoAnnotationRules, ProtoField(AutoAnnotationRules, "auto_annotation")] | None
    ) = Field(
        default=None,
        examples=[{"default_min_confidence": 0.95, "class_min_confidence": {}, "floor": 0.3}],
    )
    review_policy: Annotated[ReviewPolicy, ProtoField(ReviewPolicy, "review_policy")] | None = (
        Field(
            default=None, examples=[{"overlap": 3, "gold_ratio": 0.1, "consensus_threshold": 0.7}]
        )
    )

    def new_project(self) -> NewProject:
        return carry_fields(NewProject, self, data_type=data_type_from_name(self.data_type))


# Annotators work as themselves: `annotator` may be left out, and naming
# anyone but the caller is refused.
ANNOTATOR = Field(default="", max_length=MAX_ID, description="The caller, or empty")


class NextTaskRequest(BaseModel):
    annotator: str = ANNOTATOR


class AcceptRequest(BaseModel):
    annotator: str = ANNOTATOR
    suggestion_ids: list[str] = []


class RejectRequest(BaseModel):
    annotator: str = ANNOTATOR
    reason: str = Field(default="", max_length=1000)


class AnnotationRequest(BaseModel):
    annotator: str = ANNOTATOR
    labels: Annotated[list[Label], ProtoField(Label, "labels")]


def router(annotation: SecuredAnnotation) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["annotation"])

    @api.post("/projects", **proto_io(response=pb.CreateProjectResponse, status_code=201))
    async def create_project(request: ProjectRequest, caller: Caller) -> ProtoJSON:
        project = await annotation.create_project(caller, request.new_project())
        return ProtoJSON(views.project_created(project), status_code=201)

    @api.get("/projects", **proto_io(response=pb.ListProjectsResponse))
    async def list_projects(
        caller: Caller, page_size: PageSize = 0, page_token: str = ""
    ) -> ProtoJSON:
        """The projects the caller may read, newest first, a page at a time."""
        found, token = await annotation.list_projects(caller, page_size, page_token)
        return ProtoJSON(views.projects(found, token))

    @api.get("/projects/{project_id}", **proto_io(response=pb.GetProjectResponse))
    async def get_project(project_id: str, caller: Caller) -> ProtoJSON:
        return ProtoJSON(views.project(await annotation.get_project(caller, project_id)))

    @api.get("/projects/{project_id}/queue", **proto_io(response=pb.GetQueueStatsResponse))
    async def queue_stats(project_id: str, caller: Caller) -> ProtoJSON:
        """Regular tasks by status, and gold tasks."""
        return ProtoJSON(views.queue_stats(await annotation.queue_stats(caller, project_id)))

    @api.post(
        "/projects/{project_id}/tasks/next",
        response_model=None,
        **proto_io(response=pb.NextTaskResponse),
    )
    async def next_task(project_id: str, request: NextTaskRequest, caller: Caller) -> Response:
        """Assign the caller's next task; 204 when the queue is empty."""
        task = await annotation.next_task(caller, project_id, request.annotator)
        if task is None:
            return Response(status_code=204)
        return ProtoJSON(views.next_task(task))

    @api.get("/tasks/{task_id}", **proto_io(response=pb.Task))
    async def get_task(task_id: str, caller: Caller) -> ProtoJSON:
        """The task, as the caller sees it."""
        return ProtoJSON(views.task(await annotation.get_task(caller, task_id)))

    @api.post(
        "/tasks/{task_id}/annotations",
        **proto_io(response=pb.SubmitAnnotationResponse, status_code=201),
    )
    async def submit(task_id: str, request: AnnotationRequest, caller: Caller) -> ProtoJSON:
        annotation_id = await annotation.submit(caller, task_id, request.labels, request.annotator)
        return ProtoJSON(views.submitted(annotation_id), status_code=201)

    @api.post(
        "/tasks/{task_id}/suggestions/accept",
        **proto_io(response=pb.AcceptSuggestionsResponse, status_code=201),
    )
    async def accept_suggestions(task_id: str, request: AcceptRequest, caller: Caller) -> ProtoJSON:
        """One click: the chosen suggestions (all when none is named) become the annotation."""
        annotation_id = await annotation.accept_suggestions(
            caller, task_id, request.suggestion_ids, request.annotator
        )
        return ProtoJSON(views.accepted(annotation_id), status_code=201)

    @api.post("/tasks/{task_id}/suggestions/{suggestion_id}/reject", status_code=204)
    async def reject_suggestion(
        task_id: str, suggestion_id: str, request: RejectRequest, caller: Caller
    ) -> None:
        """The suggestion is hidden from the annotator, who keeps the task; no body."""
        await annotation.reject_suggestion(
            caller, task_id, suggestion_id, request.reason, request.annotator
        )

    @api.get("/items/{item_id}/annotations", **proto_io(response=pb.ItemAnnotations))
    async def item_annotations(item_id: str, caller: Caller) -> ProtoJSON:
        """Every annotation of the item, human or model, oldest first."""
        found = await annotation.item_annotations(caller, item_id)
        return ProtoJSON(views.item_annotations(found))

    return api
