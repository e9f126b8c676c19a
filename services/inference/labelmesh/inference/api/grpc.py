"""gRPC adapter of the inference service."""

from __future__ import annotations

import grpc

from labelmesh.core.api import grpc_caller, grpc_errors
from labelmesh.core.runner import GrpcService
from labelmesh.inference import views
from labelmesh.inference.composition import InferenceUseCases
from labelmesh.v1 import inference_service_pb2 as pb
from labelmesh.v1 import inference_service_pb2_grpc as pb_grpc


class InferenceServicer(pb_grpc.InferenceServiceServicer):
    def __init__(self, cases: InferenceUseCases) -> None:
        self.cases = cases

    @grpc_errors
    async def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListModelsResponse:
        return views.list_models(await self.cases.registry.models())

    @grpc_errors
    async def GetModel(
        self, request: pb.GetModelRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetModelResponse:
        described = await self.cases.registry.describe(request.model_id)
        return pb.GetModelResponse(model=views.model_info(described))

    @grpc_errors
    async def RegisterModel(
        self, request: pb.RegisterModelRequest, context: grpc.aio.ServicerContext
    ) -> pb.RegisterModelResponse:
        described = await self.cases.registry.register(request)
        return pb.RegisterModelResponse(model=views.model_info(described))

    @grpc_errors
    async def PredictText(
        self, request: pb.PredictTextRequest, context: grpc.aio.ServicerContext
    ) -> pb.PredictTextResponse:
        predicted = await self.cases.assist.predict_text(request.project_id, list(request.texts))
        return views.text_predictions(predicted)

    @grpc_errors
    async def Assist(
        self, request: pb.AssistRequest, context: grpc.aio.ServicerContext
    ) -> pb.AssistResponse:
        model, items = await self.cases.assist.assist(
            request.project_id,
            list(request.item_ids),
            request.model_id,
            request.min_confidence,
            grpc_caller(context),
        )
        return views.assisted(model, items)

    @grpc_errors
    async def GetPrediction(
        self, request: pb.GetPredictionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPredictionResponse:
        prediction = await self.cases.prelabelling.latest(request.item_id)
        return views.prediction(request.item_id, prediction)

    @grpc_errors
    async def GetAutoAnnotation(
        self, request: pb.GetAutoAnnotationRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAutoAnnotationResponse:
        auto_annotation = self.cases.auto_annotation
        setup = await auto_annotation.setup(await auto_annotation.project(request.project_id))
        return views.auto_annotation(setup)

    @grpc_errors
    async def ConfigureAutoAnnotation(
        self, request: pb.ConfigureAutoAnnotationRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConfigureAutoAnnotationResponse:
        setup = await self.cases.auto_annotation.configure(
            request.project_id, list(request.models), request.rules, grpc_caller(context)
        )
        return views.configured(setup)


def grpc_service(cases: InferenceUseCases) -> GrpcService:
    return GrpcService.of(
        InferenceServicer(cases),
        pb_grpc.add_InferenceServiceServicer_to_server,
        pb.DESCRIPTOR,
        "InferenceService",
    )
