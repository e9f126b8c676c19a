"""Models served elsewhere (Triton, KServe, MLServer, BentoML) and reached over
the Open Inference Protocol, also known as KServe v2, by REST or by gRPC.

A named preprocess turns each item into one input tensor, and a named
postprocess turns the output tensor into labels. Both transports send and read
the same tensors, so they produce the same labels.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import grpc
import httpx
import numpy as np
from numpy.typing import NDArray

from labelmesh.inference.models.base import Model, ModelInput, ModelSpec, UndecodableInput
from labelmesh.kserve.v2 import open_inference_pb2 as oip
from labelmesh.kserve.v2 import open_inference_pb2_grpc as oip_grpc
from labelmesh.v1.geometry_pb2 import BoundingBox, Classification, Label
from labelmesh.v1.inference_service_pb2 import RemoteModel, RemoteTransport

Embed = Callable[[Sequence[str]], NDArray[np.float32]]

PREPROCESSES = ("text", "text_embedding", "image_rgb", "audio_pcm")
POSTPROCESSES = ("class_probabilities", "class_label", "boxes")
# The only preprocess that sends a whole batch in one request; the others send
# one item per request, because their tensors have no batch dimension.
BATCHED_PREPROCESSES = ("text_embedding",)

DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_CLASSIFICATIONS = 5
# MLServer's name for an undeclared first input; used when metadata names none.
DEFAULT_INPUT_NAME = "input-0"
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
MAX_REASON_CHARS = 500

NUMPY_TYPES: dict[str, type[np.generic]] = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
}
FLOAT_TYPES = ("FP16", "FP32", "FP64")
# The field of InferTensorContents that holds each type; FP16 travels raw only.
CONTENTS_FIELDS = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}


class InvalidRemoteModel(ValueError):
    """A remote model's declaration cannot work; names the field at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class RemoteModelError(RuntimeError):
    """The remote model failed to answer, or answered something unusable."""


@dataclass(frozen=True)
class Tensor:
    """One tensor as both transports see it. BYTES elements are `str`, in an
    object array; every other type is a numeric array of its own shape."""

    name: str
    datatype: str
    values: NDArray[Any]
    # MLServer's decoding hint, for example "str"; other servers ignore it.
    content_type: str = ""

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.values.shape)


@dataclass(frozen=True)
class Endpoint:
    url: str
    name: str
    version: str
    timeout_seconds: float

    def error(self, reason: str) -> RemoteModelError:
        return RemoteModelError(f"remote model {self.name!r} at {self.url}: {reason}")


class Transport(Protocol):
    def check_ready(self) -> None: ...

    def input_names(self) -> list[str]: ...

    def infer(self, tensor: Tensor, output: str) -> Tensor: ...

    def close(self) -> None: ...


# --- REST ------------------------------------------------------------------


class RestTransport:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.client = httpx.Client(
            base_url=endpoint.url.rstrip("/"), timeout=endpoint.timeout_seconds
        )
        self.path = f"/v2/models/{quote(endpoint.name, safe='')}"
        if endpoint.version:
            self.path += f"/versions/{quote(endpoint.version, safe='')}"

    def check_ready(self) -> None:
        self._send("GET", f"{self.path}/ready")

    def input_names(self) -> list[str]:
        metadata = self._send("GET", self.path).json()
        return [str(tensor["name"]) for tensor in metadata.get("inputs") or []]

    def infer(self, tensor: Tensor, output: str) -> Tensor:
        body: dict[str, Any] = {"inputs": [tensor_to_json(tensor)]}
        if output:
            body["outputs"] = [{"name": output}]
        answer = self._send("POST", f"{self.path}/infer", body)
        try:
            outputs = answer.json().get("outputs") or []
            return tensor_from_json(pick_output(outputs, output, self.endpoint))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise unreadable(self.endpoint, exc) from exc

    def close(self) -> None:
        self.client.close()

    def _send(self, method: str, path: str, body: Any = None) -> httpx.Response:
        try:
            response = self.client.request(method, path, json=body)
        except httpx.TimeoutException:
            raise self.endpoint.error(
                f"no answer within {self.endpoint.timeout_seconds:g}s"
            ) from None
        except httpx.ConnectError as exc:
            raise self.endpoint.error(f"cannot reach the server ({exc})") from exc
        except httpx.HTTPError as exc:
            raise self.endpoint.error(f"the request failed ({exc!r})") from exc
        if not response.is_success:
            raise self.endpoint.error(f"HTTP {response.status_code}: {rest_reason(response)}")
        return response


def rest_reason(response: httpx.Response) -> str:
    """The server's own explanation: the protocol's `error` field when present."""
    try:
        reason = str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        reason = response.text or response.reason_phrase
    return reason[:MAX_REASON_CHARS]


def tensor_to_json(tensor: Tensor) -> dict[str, Any]:
    encoded: dict[str, Any] = {
        "name": tensor.name,
        "datatype": tensor.datatype,
        "shape": list(tensor.shape),
        "data": tensor.values.ravel().tolist(),
    }
    if tensor.content_type:
        encoded["parameters"] = {"content_type": tensor.content_type}
    return encoded


def tensor_from_json(encoded: dict[str, Any]) -> Tensor:
    datatype = str(encoded["datatype"])
    shape = [int(n) for n in encoded["shape"]]
    dtype: Any = object if datatype == "BYTES" else NUMPY_TYPES[datatype]
    # The protocol allows nested or flat data; reshape copes with both.
    values = np.asarray(encoded["data"], dtype=dtype).reshape(shape)
    return Tensor(str(encoded["name"]), datatype, values)


# --- gRPC ------------------------------------------------------------------


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
    request.raw_input_contents.append(to_raw(tensor))
    if output:
        request.outputs.add(name=output)
    return request


def to_raw(tensor: Tensor) -> bytes:
    if tensor.datatype == "BYTES":
        # Each element is its length as a little-endian uint32, then its bytes.
        encoded = [str(value).encode() for value in tensor.values.ravel()]
        return b"".join(struct.pack("<I", len(item)) + item for item in encoded)
    little_endian = np.dtype(NUMPY_TYPES[tensor.datatype]).newbyteorder("<")
    return np.ascontiguousarray(tensor.values, dtype=little_endian).tobytes()


def tensor_from_grpc(output: oip.ModelInferResponse.InferOutputTensor, raw: bytes | None) -> Tensor:
    shape = [int(n) for n in output.shape]
    if output.datatype == "BYTES":
        elements = split_raw_bytes(raw) if raw is not None else list(output.contents.bytes_contents)
        values = np.asarray([e.decode(errors="replace") for e in elements], dtype=object)
    elif raw is not None:
        values = np.frombuffer(raw, np.dtype(NUMPY_TYPES[output.datatype]).newbyteorder("<"))
    else:
        contents = getattr(output.contents, CONTENTS_FIELDS[output.datatype])
        values = np.asarray(contents, dtype=NUMPY_TYPES[output.datatype])
    return Tensor(output.name, output.datatype, values.reshape(shape))


def split_raw_bytes(raw: bytes) -> list[bytes]:
    elements = []
    offset = 0
    while offset < len(raw):
        (length,) = struct.unpack_from("<I", raw, offset)
        elements.append(raw[offset + 4 : offset + 4 + length])
        offset += 4 + length
    return elements


# --- outputs -----------------------------------------------------------------


def pick_output(outputs: list[dict[str, Any]], name: str, endpoint: Endpoint) -> dict[str, Any]:
    for candidate in outputs:
        if name in ("", candidate.get("name")):
            return candidate
    raise endpoint.error(missing_output(name, [str(o.get("name")) for o in outputs]))


def unreadable(endpoint: Endpoint, exc: Exception) -> RemoteModelError:
    return endpoint.error(f"the answer is not a readable tensor ({exc!r})")


def missing_output(name: str, present: list[str]) -> str:
    wanted = f"output {name!r}" if name else "an output"
    return f"the answer has no {wanted}; it has {present}"


def confidence(value: float) -> float:
    return min(max(value, 0.0), 1.0) if math.isfinite(value) else 0.0


def ranked_classifications(row: NDArray[Any], labels: Sequence[str]) -> list[Label]:
    best_first = np.argsort(-row, kind="stable")[:MAX_CLASSIFICATIONS]
    return [
        Label(
            classification=Classification(label=labels[column]),
            confidence=confidence(float(row[column])),
        )
        for column in best_first
    ]


# --- the model -----------------------------------------------------------------


class RemoteOipModel(Model):
    """A model served elsewhere, declared by a `RemoteModel`."""

    def __init__(self, spec: ModelSpec, remote: RemoteModel, embed: Embed | None = None) -> None:
        validate(spec, remote, embed)
        self.spec = spec
        self.remote = remote
        self.embed = embed
        self.endpoint = Endpoint(
            url=remote.url,
            name=remote.name,
            version=remote.version,
            timeout_seconds=remote.timeout_seconds or DEFAULT_TIMEOUT_SECONDS,
        )
        self.input_name = DEFAULT_INPUT_NAME
        self._transport: Transport | None = None

    def load(self) -> None:
        """Connect and check that the server has the model ready."""
        transport = self._open()
        transport.check_ready()
        declared = transport.input_names()
        self.input_name = declared[0] if declared else DEFAULT_INPUT_NAME

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def prepare(self, item: ModelInput) -> Any:
        preprocess = self.remote.preprocess
        if preprocess in ("text", "text_embedding"):
            if not item.text.strip():
                raise UndecodableInput("text", "the item has no text")
            return item.text
        if preprocess == "image_rgb":
            from labelmesh.inference.models.images import decode_image

            return decode_image(item.media)
        from labelmesh.inference.models.audio import decode_audio

        return decode_audio(item.media)

    def predict(self, prepared: Sequence[Any]) -> list[list[Label]]:
        transport = self._open()
        if self.remote.preprocess in BATCHED_PREPROCESSES:
            batches = [list(prepared)] if prepared else []
        else:
            batches = [[one] for one in prepared]
        labels: list[list[Label]] = []
        for batch in batches:
            output = transport.infer(self._input_tensor(batch), self.remote.output)
            labels.extend(self._labels(output, len(batch)))
        return labels

    def _open(self) -> Transport:
        if self._transport is None:
            if self.remote.transport == RemoteTransport.REMOTE_TRANSPORT_GRPC:
                self._transport = GrpcTransport(self.endpoint)
            else:
                self._transport = RestTransport(self.endpoint)
        return self._transport

    def _input_tensor(self, batch: Sequence[Any]) -> Tensor:
        preprocess = self.remote.preprocess
        if preprocess == "text":
            (text,) = batch
            return Tensor(self.input_name, "BYTES", np.asarray([text], dtype=object), "str")
        if preprocess == "text_embedding":
            return Tensor(self.input_name, "FP32", self._embeddings(batch))
        (media,) = batch
        if preprocess == "image_rgb":
            return Tensor(self.input_name, "UINT8", np.asarray(media, dtype=np.uint8))
        return Tensor(self.input_name, "FP32", np.asarray(media, dtype=np.float32).ravel())

    def _embeddings(self, texts: Sequence[str]) -> NDArray[np.float32]:
        assert self.embed is not None  # checked by validate()
        vectors = np.asarray(self.embed(texts), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise RemoteModelError(
                f"model {self.spec.id!r}: the embedding of {len(texts)} texts has shape "
                f"{vectors.shape}, not ({len(texts)}, width)"
            )
        return vectors

    def _labels(self, output: Tensor, rows: int) -> list[list[Label]]:
        postprocess = self.remote.postprocess
        if postprocess == "class_probabilities":
            return self._probabilities(output, rows)
        if postprocess == "class_label":
            return self._class_labels(output, rows)
        return [self._boxes(output)]

    def _probabilities(self, output: Tensor, rows: int) -> list[list[Label]]:
        labels = self.spec.labels
        if output.datatype not in FLOAT_TYPES:
            raise self._bad_output(output, f"is {output.datatype}, not FP16, FP32 or FP64")
        table = output.values.reshape(1, -1) if output.values.ndim == 1 else output.values
        if table.shape != (rows, len(labels)):
            raise self._bad_output(
                output,
                f"has shape {list(output.shape)} for {rows} item(s), but {len(labels)} labels "
                f"are registered ({', '.join(labels)}); expected [{rows}, {len(labels)}], "
                "one column per label in the registered order",
            )
        return [ranked_classifications(row.astype(np.float64), labels) for row in table]

    def _class_labels(self, output: Tensor, rows: int) -> list[list[Label]]:
        if output.values.size != rows:
            raise self._bad_output(
                output, f"has shape {list(output.shape)}, not one label for each of {rows} items"
            )
        return [
            [Label(classification=Classification(label=self._label_name(v)), confidence=1.0)]
            for v in output.values.ravel()
        ]

    def _label_name(self, value: Any) -> str:
        """A BYTES output is the name itself; an integer one indexes the labels."""
        if isinstance(value, str):
            return value
        return self._label_at(int(value))

    def _boxes(self, output: Tensor) -> list[Label]:
        if output.values.size == 0:
            return []
        if output.datatype == "BYTES" or output.values.ndim != 2 or output.shape[1] != 6:
            raise self._bad_output(
                output,
                f"is {output.datatype} {list(output.shape)}, not a number table [K, 6] of "
                "x, y, width, height, score, class index",
            )
        boxes = [
            Label(
                bounding_box=BoundingBox(
                    label=self._label_at(int(row[5])),
                    x=float(row[0]),
                    y=float(row[1]),
                    width=float(row[2]),
                    height=float(row[3]),
                ),
                confidence=confidence(float(row[4])),
            )
            for row in output.values
        ]
        return sorted(boxes, key=lambda box: -box.confidence)

    def _label_at(self, index: int) -> str:
        labels = self.spec.labels
        if not 0 <= index < len(labels):
            raise self.endpoint.error(
                f"class index {index} is outside the {len(labels)} registered labels"
            )
        return labels[index]

    def _bad_output(self, output: Tensor, reason: str) -> RemoteModelError:
        return self.endpoint.error(f"output {output.name!r} {reason}")


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
