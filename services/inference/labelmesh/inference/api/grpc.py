"""gRPC adapter of the inference service."""

from __future__ import annotations

import grpc

from labelmesh.core.api import grpc_caller, grpc_errors
from labelmesh.core.runner import GrpcService
from labelmesh.inference.models.catalog import ZERO_SHOT
from labelmesh.inference.usecases import Inference, ModelDescription, ref
from labelmesh.v1 import inference_service_pb2 as pb
from labelmesh.v1 import inference_service_pb2_grpc as pb_grpc
from labelmesh.v1.events_pb2 import ModelRef


def model_info(model: ModelDescription) -> pb.ModelInfo:
    spec = model.spec
    info = pb.ModelInfo(
        model=ModelRef(id=spec.id, version=spec.version),
        task=spec.task.value,
        data_type=spec.data_type,  # type: ignore[arg-type]
        labels=spec.labels,
        description=spec.description,
        quality=model.quality,
    )
    if model.remote is not None:
        info.remote.CopyFrom(model.remote)
    return info


class InferenceServicer(pb_grpc.InferenceServiceServicer):
    def __init__(self, inference: Inference) -> None:
        self.inference = inference

    @grpc_errors
    async def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(models=[model_info(m) for m in await self.inference.models()])

    @grpc_errors
    async def GetModel(
        self, request: pb.GetModelRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetModelResponse:
        return pb.GetModelResponse(
            model=model_info(await self.inference.describe(request.model_id))
        )

    @grpc_errors
    async def RegisterModel(
        self, request: pb.RegisterModelRequest, context: grpc.aio.ServicerContext
    ) -> pb.RegisterModelResponse:
        return pb.RegisterModelResponse(model=model_info(await self.inference.register(request)))

    @grpc_errors
    async def PredictText(
        self, request: pb.PredictTextRequest, context: grpc.aio.ServicerContext
    ) -> pb.PredictTextResponse:
        ranked = await self.inference.predict_text(request.project_id, list(request.texts))
        runner = self.inference.pool.get(ZERO_SHOT)
        assert runner is not None
        return pb.PredictTextResponse(
            model=ref(runner.spec),
            predictions=[pb.TextPrediction(labels=labels) for labels in ranked],
        )

    @grpc_errors
    async def Assist(
        self, request: pb.AssistRequest, context: grpc.aio.ServicerContext
    ) -> pb.AssistResponse:
        model, items = await self.inference.assist(
            request.project_id,
            list(request.item_ids),
            request.model_id,
            request.min_confidence,
            grpc_caller(context),
        )
        return pb.AssistResponse(
            model=model,
            items=[
                pb.ItemSuggestions(
                    item_id=i.item_id, prediction_id=i.prediction_id, labels=i.labels, error=i.error
                )
                for i in items
            ],
        )

    @grpc_errors
    async def GetPrediction(
        self, request: pb.GetPredictionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPredictionResponse:
        prediction = await self.inference.get_prediction(request.item_id)
        return pb.GetPredictionResponse(item_id=request.item_id, prediction=prediction)

    @grpc_errors
    async def GetAutoAnnotation(
        self, request: pb.GetAutoAnnotationRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAutoAnnotationResponse:
        setup = await self.inference.setup(await self.inference.project(request.project_id))
        return pb.GetAutoAnnotationResponse(models=setup.models, rules=setup.rules)

    @grpc_errors
    async def ConfigureAutoAnnotation(
        self, request: pb.ConfigureAutoAnnotationRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConfigureAutoAnnotationResponse:
        setup = await self.inference.configure(
            request.project_id, list(request.models), request.rules, grpc_caller(context)
        )
        return pb.ConfigureAutoAnnotationResponse(models=setup.models, rules=setup.rules)


def grpc_service(inference: Inference) -> GrpcService:
    return GrpcService(
        servicer=InferenceServicer(inference),
        add_to_server=pb_grpc.add_InferenceServiceServicer_to_server,
        full_name=pb.DESCRIPTOR.services_by_name["InferenceService"].full_name,
    )
