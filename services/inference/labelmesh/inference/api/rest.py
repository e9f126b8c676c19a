"""REST adapter of the inference service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from google.protobuf import json_format
from pydantic import BaseModel

from labelmesh.core.labels import data_type_name, labels_to_json
from labelmesh.inference.usecases import Inference


class PredictTextRequest(BaseModel):
    project_id: str
    texts: list[str]


def router(inference: Inference) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["inference"])

    @api.get("/models")
    async def list_models() -> dict[str, Any]:
        return {
            "models": [
                {"id": m.id, "version": m.version, "task": task, "data_type": data_type_name(dt)}
                for m, task, dt in inference.models()
            ]
        }

    @api.post("/predict/text")
    async def predict_text(request: PredictTextRequest) -> dict[str, Any]:
        """AI Assist: class probabilities for each text, most likely first."""
        ranked = await inference.predict_text(request.project_id, request.texts)
        model = inference.models()[0][0]
        return {
            "model": {"id": model.id, "version": model.version},
            "predictions": [{"labels": labels_to_json(labels)} for labels in ranked],
        }

    @api.get("/items/{item_id}/prediction")
    async def get_prediction(item_id: str) -> dict[str, Any]:
        prediction = await inference.get_prediction(item_id)
        as_json: dict[str, Any] = json_format.MessageToDict(
            prediction, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
        return as_json

    return api
