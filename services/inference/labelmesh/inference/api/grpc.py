"""gRPC adapter of the inference service."""

from __future__ import annotations

import grpc

from labelmesh.core.api import grpc_errors
from labelmesh.core.runner import GrpcService
from labelmesh.inference.usecases import Inference
from labelmesh.v1 import inference_service_pb2 as pb
from labelmesh.v1 import inference_service_pb2_grpc as pb_grpc


class InferenceServicer(pb_grpc.InferenceServiceServicer):
    def __init__(self, inference: Inference) -> None:
        self.inference = inference

    @grpc_errors
    async def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(
            models=[
                pb.ModelInfo(model=m, task=task, data_type=dt)  # type: ignore[arg-type]
                for m, task, dt in self.inference.models()
            ]
        )

    @grpc_errors
    async def PredictText(
        self, request: pb.PredictTextRequest, context: grpc.aio.ServicerContext
    ) -> pb.PredictTextResponse:
        ranked = await self.inference.predict_text(request.project_id, list(request.texts))
        return pb.PredictTextResponse(
            model=self.inference.models()[0][0],
            predictions=[pb.TextPrediction(labels=labels) for labels in ranked],
        )

    @grpc_errors
    async def GetPrediction(
        self, request: pb.GetPredictionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPredictionResponse:
        prediction = await self.inference.get_prediction(request.item_id)
        return pb.GetPredictionResponse(item_id=request.item_id, prediction=prediction)


def grpc_service(inference: Inference) -> GrpcService:
    return GrpcService(
        servicer=InferenceServicer(inference),
        add_to_server=pb_grpc.add_InferenceServiceServicer_to_server,
        full_name=pb.DESCRIPTOR.services_by_name["InferenceService"].full_name,
    )
