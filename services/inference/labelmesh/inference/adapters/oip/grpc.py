"""The gRPC transport of the Open Inference Protocol."""

from __future__ import annotations

import struct
from typing import Any

import grpc

from labelmesh.inference.adapters.oip.tensors import Tensor, tensor_from_grpc, tensor_to_raw
from labelmesh.inference.adapters.oip.transport import (
    MAX_REASON_CHARS,
    Endpoint,
    missing_output,
    unreadable,
)
from labelmesh.kserve.v2 import open_inference_pb2 as oip
from labelmesh.kserve.v2 import open_inference_pb2_grpc as oip_grpc

MAX_MESSAGE_BYTES = 256 * 1024 * 1024


class GrpcTransport:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.channel = grpc.insecure_channel(
            endpoint.url,
            options=[
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        # The generated stub has no type annotations.
        self.stub = oip_grpc.GRPCInferenceServiceStub(self.channel)  # type: ignore[no-untyped-call]

    def check_ready(self) -> None:
        request = oip.ModelReadyRequest(name=self.endpoint.name, version=self.endpoint.version)
        if not self._call(self.stub.ModelReady, request).ready:
            raise self.endpoint.error("the server says the model is not ready")

    def input_names(self) -> list[str]:
        request = oip.ModelMetadataRequest(name=self.endpoint.name, version=self.endpoint.version)
        return [tensor.name for tensor in self._call(self.stub.ModelMetadata, request).inputs]

    def infer(self, tensor: Tensor, output: str) -> Tensor:
        request = infer_request(self.endpoint, tensor, output)
        response: oip.ModelInferResponse = self._call(self.stub.ModelInfer, request)
        for index, candidate in enumerate(response.outputs):
            if output in ("", candidate.name):
                raw = response.raw_output_contents
                try:
                    return tensor_from_grpc(candidate, raw[index] if raw else None)
                except (KeyError, IndexError, ValueError, struct.error) as exc:
                    raise unreadable(self.endpoint, exc) from exc
        raise self.endpoint.error(missing_output(output, [o.name for o in response.outputs]))

    def close(self) -> None:
        self.channel.close()

    def _call(self, method: Any, request: Any) -> Any:
        try:
            return method(request, timeout=self.endpoint.timeout_seconds)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                reason = f"no answer within {self.endpoint.timeout_seconds:g}s"
            else:
                reason = f"gRPC {exc.code().name}: {str(exc.details())[:MAX_REASON_CHARS]}"
            raise self.endpoint.error(reason) from None


def infer_request(endpoint: Endpoint, tensor: Tensor, output: str) -> oip.ModelInferRequest:
    """Inputs go as raw little-endian bytes: compact for images and embeddings,
    and servers then answer with raw outputs too."""
    request = oip.ModelInferRequest(model_name=endpoint.name, model_version=endpoint.version)
    sent = request.inputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
    if tensor.content_type:
        sent.parameters["content_type"].string_param = tensor.content_type
    request.raw_input_contents.append(tensor_to_raw(tensor))
    if output:
        request.outputs.add(name=output)
    return request
