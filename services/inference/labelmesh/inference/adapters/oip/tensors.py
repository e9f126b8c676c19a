"""Tensors of the Open Inference Protocol, and their two wire forms: the JSON
objects of the REST API and the raw little-endian bytes or typed contents of
the gRPC API."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from labelmesh.kserve.v2 import open_inference_pb2 as oip

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


# --- JSON (REST) ---------------------------------------------------------------


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


# --- protobuf (gRPC) -------------------------------------------------------------


def tensor_to_raw(tensor: Tensor) -> bytes:
    if tensor.datatype == "BYTES":
        # Each element is its length as a little-endian uint32, then its bytes.
        encoded = [str(value).encode() for value in tensor.values.ravel()]
        return b"".join(struct.pack("<I", len(item)) + item for item in encoded)
    little_endian = np.dtype(NUMPY_TYPES[tensor.datatype]).newbyteorder("<")
    return np.ascontiguousarray(tensor.values, dtype=little_endian).tobytes()


def tensor_from_grpc(output: oip.ModelInferResponse.InferOutputTensor, raw: bytes | None) -> Tensor:
    """`raw` is the output's entry of `raw_output_contents`, or None when the
    server sent typed `contents` instead."""
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
