"""gRPC adapter of the inference service."""

from __future__ import annotations

import grpc

from labelmesh.core.api import grpc_errors, grpc_principal
from labelmesh.core.authentication import Authenticator
from labelmesh.core.runner import GrpcService
from labelmesh.inference import views
from labelmesh.inference.secured import SecuredInference
from labelmesh.v1 import inference_service_pb2 as pb
from labelmesh.v1 import inference_service_pb2_grpc as pb_grpc


class InferenceServicer(pb_grpc.InferenceServiceServicer):
    def __init__(self, inference: SecuredInference, authenticator: Authenticator) -> None:
        self.inference = inference
        self.authenticator = authenticator

    @grpc_errors
    async def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListModelsResponse:
        caller = await grpc_principal(self.authenticator, context)
        return views.list_models(await self.inference.models(caller))

    @grpc_errors
    async def GetModel(
        self, request: pb.GetModelRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetModelResponse:
        caller = await grpc_principal(self.authenticator, context)
        described = await self.inference.describe(caller, request.model_id)
        return pb.GetModelResponse(model=views.model_info(described))

    @grpc_errors
    async def RegisterModel(
        self, request: pb.RegisterModelRequest, context: grpc.aio.ServicerContext
    ) -> pb.RegisterModelResponse:
        caller = await grpc_principal(self.authenticator, context)
        described = await self.inference.register(caller, request)
        return pb.RegisterModelResponse(model=views.model_info(described))

    @grpc_errors
    async def PredictText(
        self, request: pb.PredictTextRequest, context: grpc.aio.ServicerContext
    ) -> pb.PredictTextResponse:
        caller = await grpc_principal(self.authenticator, context)
        predicted = await self.inference.predict_text(
            caller, request.project_id, list(request.texts)
        )
        return views.text_predictions(predicted)

    @grpc_errors
    async def Assist(
        self, request: pb.AssistRequest, context: grpc.aio.ServicerContext
    ) -> pb.AssistResponse:
        caller = await grpc_principal(self.authenticator, context)
        model, items = await self.inference.assist(
            caller,
            request.project_id,
            list(request.item_ids),
            request.model_id,
            request.min_confidence,
        )
        return views.assisted(model, items)

    @grpc_errors
    async def GetPrediction(
        self, request: pb.GetPredictionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPredictionResponse:
        caller = await grpc_principal(self.authenticator, context)
        prediction = await self.inference.prediction(caller, request.item_id)
        return views.prediction(request.item_id, prediction)

    @grpc_errors
    async def GetAutoAnnotation(
        self, request: pb.GetAutoAnnotationRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAutoAnnotationResponse:
        caller = await grpc_principal(self.authenticator, context)
        return views.auto_annotation(
            await self.inference.auto_annotation(caller, request.project_id)
        )

    @grpc_errors
    async def ConfigureAutoAnnotation(
        self, request: pb.ConfigureAutoAnnotationRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConfigureAutoAnnotationResponse:
        caller = await grpc_principal(self.authenticator, context)
        setup = await self.inference.configure_auto_annotation(
            caller, request.project_id, list(request.models), request.rules
        )
        return views.configured(setup)


def grpc_service(inference: SecuredInference, authenticator: Authenticator) -> GrpcService:
    return GrpcService.of(
        InferenceServicer(inference, authenticator),
        pb_grpc.add_InferenceServiceServicer_to_server,
        pb.DESCRIPTOR,
        "InferenceService",
    )
