"""REST adapter of the inference service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from labelmesh.core.api import UserHeader
from labelmesh.core.errors import InvalidField
from labelmesh.core.labels import (
    data_type_from_name,
    data_type_name,
    labels_to_json,
    message_from_json,
    message_to_json,
)
from labelmesh.inference.adapters.repository import AutoAnnotationSetup
from labelmesh.inference.models.catalog import ZERO_SHOT
from labelmesh.inference.usecases import Inference, ModelDescription
from labelmesh.v1.events_pb2 import AutoAnnotationRules, ModelBinding, ModelRef
from labelmesh.v1.inference_service_pb2 import RegisterModelRequest, RemoteModel, RemoteTransport

TRANSPORTS = {
    "rest": RemoteTransport.REMOTE_TRANSPORT_REST,
    "grpc": RemoteTransport.REMOTE_TRANSPORT_GRPC,
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


class AutoAnnotationRequest(BaseModel):
    models: list[dict[str, Any]] = []
    rules: dict[str, Any] = {}


def model_json(model: ModelDescription) -> dict[str, Any]:
    spec = model.spec
    described: dict[str, Any] = {
        "id": spec.id,
        "version": spec.version,
        "task": spec.task.value,
        "data_type": data_type_name(spec.data_type),
        "labels": list(spec.labels),
        "description": spec.description,
        "runtime": "remote" if model.remote else "in_process",
        "quality": message_to_json(model.quality),
    }
    if model.remote:
        described["remote"] = message_to_json(model.remote)
    return described


def setup_json(setup: AutoAnnotationSetup) -> dict[str, Any]:
    return {
        "models": [message_to_json(b) for b in setup.models],
        "rules": message_to_json(setup.rules),
    }


def router(inference: Inference) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["inference"])

    @api.get("/models")
    async def list_models() -> dict[str, Any]:
        return {"models": [model_json(m) for m in await inference.models()]}

    @api.get("/models/{model_id}")
    async def get_model(model_id: str) -> dict[str, Any]:
        return model_json(await inference.describe(model_id))

    @api.post("/models", status_code=201)
    async def register_model(request: RegisterRequest) -> dict[str, Any]:
        """Register a model served over the Open Inference Protocol (KServe v2)."""
        transport = TRANSPORTS.get(request.remote.transport.lower())
        if transport is None:
            raise InvalidField("remote.transport", "must be rest or grpc")
        remote = request.remote
        registration = RegisterModelRequest(
            model=ModelRef(id=request.id, version=request.version),
            task=request.task,
            data_type=data_type_from_name(request.data_type),  # type: ignore[arg-type]
            labels=request.labels,
            remote=RemoteModel(
                url=remote.url,
                transport=transport,
                name=remote.name,
                version=remote.version,
                preprocess=remote.preprocess,
                postprocess=remote.postprocess,
                output=remote.output,
                timeout_seconds=remote.timeout_seconds,
            ),
        )
        return model_json(await inference.register(registration))

    @api.post("/predict/text")
    async def predict_text(request: PredictTextRequest) -> dict[str, Any]:
        """Zero-shot: the most likely classes of each text with their probabilities."""
        ranked = await inference.predict_text(request.project_id, request.texts)
        model = inference.pool.get(ZERO_SHOT)
        assert model is not None
        return {
            "model": {"id": model.spec.id, "version": model.spec.version},
            "predictions": [{"labels": labels_to_json(labels)} for labels in ranked],
        }

    @api.post("/assist")
    async def assist(request: AssistRequest, user: UserHeader = "api") -> dict[str, Any]:
        """AI Assist: a model's suggestions for stored items, shown on their tasks."""
        model, items = await inference.assist(
            request.project_id, request.item_ids, request.model_id, request.min_confidence, user
        )
        return {
            "model": message_to_json(model),
            "items": [
                {
                    "item_id": i.item_id,
                    "prediction_id": i.prediction_id,
                    "labels": labels_to_json(i.labels),
                    "error": i.error,
                }
                for i in items
            ],
        }

    @api.get("/items/{item_id}/prediction")
    async def get_prediction(item_id: str) -> dict[str, Any]:
        return message_to_json(await inference.get_prediction(item_id))

    @api.get("/projects/{project_id}/auto-annotation")
    async def get_auto_annotation(project_id: str) -> dict[str, Any]:
        project = await inference.project(project_id)
        return setup_json(await inference.setup(project))

    @api.put("/projects/{project_id}/auto-annotation")
    async def configure_auto_annotation(
        project_id: str, request: AutoAnnotationRequest, user: UserHeader = "api"
    ) -> dict[str, Any]:
        """Replace the project's models and rules; the rule version increases."""
        models = [
            message_from_json(raw, ModelBinding(), f"models[{i}]")
            for i, raw in enumerate(request.models)
        ]
        rules = message_from_json(request.rules, AutoAnnotationRules(), "rules")
        return setup_json(await inference.configure(project_id, models, rules, user))

    return api
