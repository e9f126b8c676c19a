"""REST adapter of the inference service: the proto-JSON of the messages the
gRPC methods return (built in `views.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from labelmesh.core.api import Caller
from labelmesh.core.errors import InvalidField
from labelmesh.core.labels import data_type_from_name
from labelmesh.core.rest_proto import ProtoJSON, proto_body, proto_io
from labelmesh.inference import views
from labelmesh.inference.secured import SecuredInference
from labelmesh.v1 import inference_service_pb2 as pb
from labelmesh.v1.events_pb2 import ModelRef

TRANSPORTS = {
    "rest": pb.RemoteTransport.REMOTE_TRANSPORT_REST,
    "grpc": pb.RemoteTransport.REMOTE_TRANSPORT_GRPC,
}


class PredictTextRequest(BaseModel):
    project_id: str
    texts: list[str]


class AssistRequest(BaseModel):
    project_id: str
    item_ids: list[str]
    model_id: str = ""
    min_confidence: float = 0.0


class RemoteModelRequest(BaseModel):
    url: str
    transport: str = Field(default="rest", examples=["rest", "grpc"])
    name: str
    version: str = ""
    preprocess: str = Field(examples=["text", "text_embedding", "image_rgb", "audio_pcm"])
    postprocess: str = Field(examples=["class_probabilities", "class_label", "boxes"])
    output: str = ""
    timeout_seconds: float = 0.0


class RegisterRequest(BaseModel):
    id: str
    version: str
    task: str = Field(examples=["classification"])
    data_type: str = Field(examples=["TEXT"])
    labels: list[str] = []
    remote: RemoteModelRequest


def registration_of(request: RegisterRequest) -> pb.RegisterModelRequest:
    transport = TRANSPORTS.get(request.remote.transport.lower())
    if transport is None:
        raise InvalidField("remote.transport", "must be rest or grpc")
    return pb.RegisterModelRequest(
        model=ModelRef(id=request.id, version=request.version),
        task=request.task,
        data_type=data_type_from_name(request.data_type),  # type: ignore[arg-type]
        labels=request.labels,
        remote=pb.RemoteModel(
            **request.remote.model_dump(exclude={"transport"}), transport=transport
        ),
    )


def router(inference: SecuredInference) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["inference"])

    @api.get("/models", **proto_io(response=pb.ListModelsResponse))
    async def list_models(caller: Caller) -> ProtoJSON:
        return ProtoJSON(views.list_models(await inference.models(caller)))

    @api.get("/models/{model_id}", **proto_io(response=pb.GetModelResponse))
    async def get_model(model_id: str, caller: Caller) -> ProtoJSON:
        described = await inference.describe(caller, model_id)
        return ProtoJSON(pb.GetModelResponse(model=views.model_info(described)))

    @api.post("/models", **proto_io(response=pb.RegisterModelResponse, status_code=201))
    async def register_model(request: RegisterRequest, caller: Caller) -> ProtoJSON:
        """Register a model served over the Open Inference Protocol (KServe v2)."""
        described = await inference.register(caller, registration_of(request))
        return ProtoJSON(pb.RegisterModelResponse(model=views.model_info(described)), 201)

    @api.post("/predict/text", **proto_io(response=pb.PredictTextResponse))
    async def predict_text(request: PredictTextRequest, caller: Caller) -> ProtoJSON:
        """Zero-shot: the most likely classes of each text with their probabilities."""
        predicted = await inference.predict_text(caller, request.project_id, request.texts)
        return ProtoJSON(views.text_predictions(predicted))

    @api.post("/assist", **proto_io(response=pb.AssistResponse))
    async def assist_items(request: AssistRequest, caller: Caller) -> ProtoJSON:
        """AI Assist: a model's suggestions for stored items, shown on their tasks."""
        model, items = await inference.assist(
            caller, request.project_id, request.item_ids, request.model_id, request.min_confidence
        )
        return ProtoJSON(views.assisted(model, items))

    @api.get("/items/{item_id}/prediction", **proto_io(response=pb.GetPredictionResponse))
    async def get_prediction(item_id: str, caller: Caller) -> ProtoJSON:
        """The item's latest pre-labelling prediction."""
        return ProtoJSON(views.prediction(item_id, await inference.prediction(caller, item_id)))

    @api.get(
        "/projects/{project_id}/auto-annotation", **proto_io(response=pb.GetAutoAnnotationResponse)
    )
    async def get_auto_annotation(project_id: str, caller: Caller) -> ProtoJSON:
        return ProtoJSON(views.auto_annotation(await inference.auto_annotation(caller, project_id)))

    @api.put(
        "/projects/{project_id}/auto-annotation",
        **proto_io(
            request=pb.ConfigureAutoAnnotationRequest,
            response=pb.ConfigureAutoAnnotationResponse,
        ),
    )
    async def configure_auto_annotation(
        project_id: str,
        request: Annotated[
            pb.ConfigureAutoAnnotationRequest,
            Depends(proto_body(pb.ConfigureAutoAnnotationRequest)),
        ],
        caller: Caller,
    ) -> ProtoJSON:
        """Replace the project's models and rules; the rule version increases.

        The body's `project_id` may be left out; the path names the project."""
        if request.project_id and request.project_id != project_id:
            raise InvalidField("body.project_id", "must be empty or the project of the path")
        setup = await inference.configure_auto_annotation(
            caller, project_id, list(request.models), request.rules
        )
        return ProtoJSON(views.configured(setup))

    return api
