"""gRPC adapter of the annotation service: the messages built in `views.py`."""

from __future__ import annotations

import grpc

from labelmesh.annotation import views
from labelmesh.annotation.domain import NewProject
from labelmesh.annotation.secured import SecuredAnnotation
from labelmesh.core.api import grpc_errors, grpc_principal
from labelmesh.core.authentication import Authenticator
from labelmesh.core.runner import GrpcService
from labelmesh.v1 import annotation_service_pb2 as pb
from labelmesh.v1 import annotation_service_pb2_grpc as pb_grpc


class AnnotationServicer(pb_grpc.AnnotationServiceServicer):
    def __init__(self, annotation: SecuredAnnotation, authenticator: Authenticator) -> None:
        self.annotation = annotation
        self.authenticator = authenticator

    @grpc_errors
    async def CreateProject(
        self, request: pb.CreateProjectRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateProjectResponse:
        caller = await grpc_principal(self.authenticator, context)
        project = await self.annotation.create_project(
            caller,
            NewProject(
                name=request.name,
                data_type=request.data_type,
                classes=list(request.classes),
                auto_accept_threshold=request.auto_accept_threshold,
                review_min_agreement=request.review_min_agreement,
                models=list(request.models),
                auto_annotation=request.auto_annotation
                if request.HasField("auto_annotation")
                else None,
                review_policy=request.review_policy if request.HasField("review_policy") else None,
            ),
        )
        return views.project_created(project)

    @grpc_errors
    async def GetProject(
        self, request: pb.GetProjectRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetProjectResponse:
        caller = await grpc_principal(self.authenticator, context)
        return views.project(await self.annotation.get_project(caller, request.project_id))

    @grpc_errors
    async def ListProjects(
        self, request: pb.ListProjectsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListProjectsResponse:
        caller = await grpc_principal(self.authenticator, context)
        found, token = await self.annotation.list_projects(
            caller, request.page_size, request.page_token
        )
        return views.projects(found, token)

    @grpc_errors
    async def NextTask(
        self, request: pb.NextTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.NextTaskResponse:
        caller = await grpc_principal(self.authenticator, context)
        task = await self.annotation.next_task(caller, request.project_id, request.annotator)
        return views.next_task(task)

    @grpc_errors
    async def SubmitAnnotation(
        self, request: pb.SubmitAnnotationRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitAnnotationResponse:
        caller = await grpc_principal(self.authenticator, context)
        annotation_id = await self.annotation.submit(
            caller, request.task_id, list(request.labels), request.annotator
        )
        return views.submitted(annotation_id)

    @grpc_errors
    async def AcceptSuggestions(
        self, request: pb.AcceptSuggestionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.AcceptSuggestionsResponse:
        caller = await grpc_principal(self.authenticator, context)
        annotation_id = await self.annotation.accept_suggestions(
            caller, request.task_id, list(request.suggestion_ids), request.annotator
        )
        return views.accepted(annotation_id)

    @grpc_errors
    async def RejectSuggestion(
        self, request: pb.RejectSuggestionRequest, context: grpc.aio.ServicerContext
    ) -> pb.RejectSuggestionResponse:
        caller = await grpc_principal(self.authenticator, context)
        await self.annotation.reject_suggestion(
            caller, request.task_id, request.suggestion_id, request.reason, request.annotator
        )
        return pb.RejectSuggestionResponse()

    @grpc_errors
    async def GetQueueStats(
        self, request: pb.GetQueueStatsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetQueueStatsResponse:
        caller = await grpc_principal(self.authenticator, context)
        return views.queue_stats(await self.annotation.queue_stats(caller, request.project_id))


def grpc_service(annotation: SecuredAnnotation, authenticator: Authenticator) -> GrpcService:
    return GrpcService.of(
        AnnotationServicer(annotation, authenticator),
        pb_grpc.add_AnnotationServiceServicer_to_server,
        pb.DESCRIPTOR,
        "AnnotationService",
    )
