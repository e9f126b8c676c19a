"""gRPC adapter of the annotation service: the messages built in `views.py`."""

from __future__ import annotations

import grpc

from labelmesh.annotation import views
from labelmesh.annotation.domain import NewProject
from labelmesh.annotation.usecases import Annotation
from labelmesh.core.api import grpc_caller, grpc_errors
from labelmesh.core.runner import GrpcService
from labelmesh.v1 import annotation_service_pb2 as pb
from labelmesh.v1 import annotation_service_pb2_grpc as pb_grpc


class AnnotationServicer(pb_grpc.AnnotationServiceServicer):
    def __init__(self, annotation: Annotation) -> None:
        self.annotation = annotation

    @grpc_errors
    async def CreateProject(
        self, request: pb.CreateProjectRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateProjectResponse:
        project = await self.annotation.create_project(
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
            grpc_caller(context),
        )
        return views.project_created(project)

    @grpc_errors
    async def GetProject(
        self, request: pb.GetProjectRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetProjectResponse:
        return views.project(await self.annotation.get_project(request.project_id))

    @grpc_errors
    async def NextTask(
        self, request: pb.NextTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.NextTaskResponse:
        task = await self.annotation.next_task(request.project_id, request.annotator)
        return views.next_task(task)

    @grpc_errors
    async def SubmitAnnotation(
        self, request: pb.SubmitAnnotationRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitAnnotationResponse:
        annotation_id = await self.annotation.submit(
            request.task_id, request.annotator, list(request.labels)
        )
        return views.submitted(annotation_id)

    @grpc_errors
    async def AcceptSuggestions(
        self, request: pb.AcceptSuggestionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.AcceptSuggestionsResponse:
        annotation_id = await self.annotation.accept_suggestions(
            request.task_id, list(request.suggestion_ids), request.annotator
        )
        return views.accepted(annotation_id)

    @grpc_errors
    async def RejectSuggestion(
        self, request: pb.RejectSuggestionRequest, context: grpc.aio.ServicerContext
    ) -> pb.RejectSuggestionResponse:
        await self.annotation.reject_suggestion(
            request.task_id, request.suggestion_id, request.annotator, request.reason
        )
        return pb.RejectSuggestionResponse()

    @grpc_errors
    async def GetQueueStats(
        self, request: pb.GetQueueStatsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetQueueStatsResponse:
        return views.queue_stats(await self.annotation.queue_stats(request.project_id))


def grpc_service(annotation: Annotation) -> GrpcService:
    return GrpcService.of(
        AnnotationServicer(annotation),
        pb_grpc.add_AnnotationServiceServicer_to_server,
        pb.DESCRIPTOR,
        "AnnotationService",
    )
