"""A remote model's registration, as the inference tests of the model registry
and of the registrations' store submit it."""

from __future__ import annotations

from labelmesh.v1.events_pb2 import DataType, ModelRef
from labelmesh.v1.inference_service_pb2 import RegisterModelRequest, RemoteModel, RemoteTransport


def registration(
    model_id: str = "team-topics", version: str = "1", url: str = "http://models:8080"
) -> RegisterModelRequest:
    """A text classifier of sports and politics on a team's own server, every field set."""
    return RegisterModelRequest(
        model=ModelRef(id=model_id, version=version),
        task="classification",
        data_type=DataType.DATA_TYPE_TEXT,
        labels=["sports", "politics"],
        remote=RemoteModel(
            url=url,
            transport=RemoteTransport.REMOTE_TRANSPORT_REST,
            name="topics",
            version="3",
            preprocess="text_embedding",
            postprocess="class_probabilities",
            output="probabilities",
            timeout_seconds=2.5,
        ),
    )
