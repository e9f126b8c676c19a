"""Refusing a remote model's declaration that cannot work, before any request."""

from __future__ import annotations

import math

from labelmesh.inference.adapters.oip.processing import (
    BATCHED_PREPROCESSES,
    POSTPROCESSES,
    PREPROCESSES,
    Embed,
)
from labelmesh.inference.models.base import ModelSpec
from labelmesh.v1.inference_service_pb2 import RemoteModel, RemoteTransport


class InvalidRemoteModel(ValueError):
    """A remote model's declaration cannot work; names the field at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def validate(spec: ModelSpec, remote: RemoteModel, embed: Embed | None) -> None:
    """Reject a declaration that cannot work, naming the field at fault."""
    if not remote.name:
        raise InvalidRemoteModel("remote.name", "the model's name on the server is required")
    validate_url(remote)
    if remote.preprocess not in PREPROCESSES:
        raise InvalidRemoteModel(
            "remote.preprocess", f"{remote.preprocess!r} is not one of {', '.join(PREPROCESSES)}"
        )
    if remote.postprocess not in POSTPROCESSES:
        raise InvalidRemoteModel(
            "remote.postprocess",
            f"{remote.postprocess!r} is not one of {', '.join(POSTPROCESSES)}",
        )
    if remote.preprocess == "text_embedding" and embed is None:
        raise InvalidRemoteModel("remote.preprocess", "'text_embedding' needs an embedding model")
    if remote.postprocess == "boxes" and remote.preprocess in BATCHED_PREPROCESSES:
        raise InvalidRemoteModel(
            "remote.postprocess",
            f"'boxes' needs one item per request, but {remote.preprocess!r} sends a batch",
        )
    if remote.postprocess in ("class_probabilities", "boxes") and not spec.labels:
        raise InvalidRemoteModel(
            "labels", f"{remote.postprocess!r} needs the labels, in the order of the output"
        )
    if not (math.isfinite(remote.timeout_seconds) and remote.timeout_seconds >= 0):
        raise InvalidRemoteModel(
            "remote.timeout_seconds", f"{remote.timeout_seconds} is not a number of seconds"
        )


def validate_url(remote: RemoteModel) -> None:
    url = remote.url
    if remote.transport == RemoteTransport.REMOTE_TRANSPORT_REST:
        if not url.startswith(("http://", "https://")):
            raise InvalidRemoteModel("remote.url", f"{url!r} is not an http:// or https:// URL")
    elif remote.transport == RemoteTransport.REMOTE_TRANSPORT_GRPC:
        if not url or "://" in url:
            raise InvalidRemoteModel("remote.url", f"{url!r} is not a gRPC host:port")
    else:
        raise InvalidRemoteModel("remote.transport", "must be REST or GRPC")
