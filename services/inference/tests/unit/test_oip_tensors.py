"""The pure parts of the Open Inference Protocol adapter: tensor codecs of both
wire forms, and the pre- and postprocesses. No server, no network."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest
from google.protobuf.json_format import MessageToDict

from labelmesh.inference.adapters.oip import RemoteModelError
from labelmesh.inference.adapters.oip.grpc import infer_request
from labelmesh.inference.adapters.oip.processing import Postprocessor, Preprocessor
from labelmesh.inference.adapters.oip.tensors import (
    CONTENTS_FIELDS,
    NUMPY_TYPES,
    Tensor,
    split_raw_bytes,
    tensor_from_grpc,
    tensor_from_json,
    tensor_to_json,
    tensor_to_raw,
)
from labelmesh.inference.adapters.oip.transport import Endpoint
from labelmesh.inference.models.base import ModelInput, UndecodableInput
from labelmesh.kserve.v2 import open_inference_pb2 as oip
from labelmesh.v1.geometry_pb2 import Label

ENDPOINT = Endpoint(url="http://models:8080", name="topics", version="", timeout_seconds=1.0)
AT = "remote model 'topics' at http://models:8080: "
NUMERIC_TYPES = sorted(NUMPY_TYPES)


def sample(datatype: str, shape: tuple[int, ...] = (2, 3)) -> Tensor:
    values = np.arange(int(np.prod(shape))).reshape(shape) % 2
    if datatype != "BOOL":
        values = values * 7 + 1
    return Tensor("x", datatype, values.astype(NUMPY_TYPES[datatype]))


def grpc_output(tensor: Tensor) -> oip.ModelInferResponse.InferOutputTensor:
    return oip.ModelInferResponse.InferOutputTensor(
        name=tensor.name, datatype=tensor.datatype, shape=tensor.shape
    )


def assert_same(got: Tensor, sent: Tensor) -> None:
    assert (got.name, got.datatype, got.shape) == (sent.name, sent.datatype, sent.shape)
    assert got.values.dtype == sent.values.dtype
    assert got.values.tolist() == sent.values.tolist()


# --- tensors: JSON -----------------------------------------------------------------


@pytest.mark.parametrize("datatype", NUMERIC_TYPES)
@pytest.mark.parametrize("shape", [(6,), (2, 3), (1, 2, 3), (0, 4)])
def test_json_round_trip_keeps_datatype_shape_and_values(
    datatype: str, shape: tuple[int, ...]
) -> None:
    sent = sample(datatype, shape)

    assert_same(tensor_from_json(json.loads(json.dumps(tensor_to_json(sent)))), sent)


def test_json_data_is_flat_and_the_content_type_goes_as_a_parameter() -> None:
    sent = Tensor("text", "BYTES", np.asarray(["héllo", "world"], dtype=object), "str")

    encoded = tensor_to_json(sent)

    assert encoded == {
        "name": "text",
        "datatype": "BYTES",
        "shape": [2],
        "data": ["héllo", "world"],
        "parameters": {"content_type": "str"},
    }
    assert_same(tensor_from_json(encoded), sent)
    assert "parameters" not in tensor_to_json(sample("FP32"))


def test_json_accepts_nested_data() -> None:
    decoded = tensor_from_json(
        {"name": "y", "datatype": "INT64", "shape": [2, 2], "data": [[1, 2], [3, 4]]}
    )

    assert decoded.values.dtype == np.int64
    assert decoded.values.tolist() == [[1, 2], [3, 4]]


# --- tensors: protobuf -----------------------------------------------------------


@pytest.mark.parametrize("datatype", NUMERIC_TYPES)
@pytest.mark.parametrize("shape", [(6,), (2, 3), (1, 2, 3), (0, 4)])
def test_raw_round_trip_keeps_datatype_shape_and_values(
    datatype: str, shape: tuple[int, ...]
) -> None:
    sent = sample(datatype, shape)

    assert_same(tensor_from_grpc(grpc_output(sent), tensor_to_raw(sent)), sent)


def test_raw_bytes_are_little_endian_whatever_the_array_byte_order() -> None:
    big_endian = np.asarray([1, 256], dtype=">u2")

    raw = tensor_to_raw(Tensor("x", "UINT16", big_endian))

    assert raw == b"\x01\x00\x00\x01"


def test_raw_bytes_elements_are_length_prefixed_utf8() -> None:
    sent = Tensor("text", "BYTES", np.asarray([["hé", ""], ["abc", "z"]], dtype=object))

    raw = tensor_to_raw(sent)

    assert raw[:7] == b"\x03\x00\x00\x00h\xc3\xa9"
    assert split_raw_bytes(raw) == [b"h\xc3\xa9", b"", b"abc", b"z"]
    assert_same(tensor_from_grpc(grpc_output(sent), raw), sent)


@pytest.mark.parametrize("datatype", sorted(set(CONTENTS_FIELDS) - {"BYTES"}))
def test_typed_contents_are_read_when_there_are_no_raw_contents(datatype: str) -> None:
    sent = sample(datatype)
    output = grpc_output(sent)
    getattr(output.contents, CONTENTS_FIELDS[datatype]).extend(sent.values.ravel().tolist())

    assert_same(tensor_from_grpc(output, None), sent)


def test_typed_bytes_contents_decode_to_str() -> None:
    output = oip.ModelInferResponse.InferOutputTensor(name="y", datatype="BYTES", shape=[2])
    output.contents.bytes_contents.extend([b"cat", b"\xff"])

    assert tensor_from_grpc(output, None).values.tolist() == ["cat", "\ufffd"]


def test_a_grpc_request_sends_the_input_raw_and_asks_for_the_output() -> None:
    sent = Tensor("text", "BYTES", np.asarray(["hi"], dtype=object), "str")

    request = infer_request(ENDPOINT, sent, "predict")

    assert MessageToDict(request.inputs[0]) == {
        "name": "text",
        "datatype": "BYTES",
        "shape": ["1"],
        "parameters": {"content_type": {"stringParam": "str"}},
    }
    assert list(request.raw_input_contents) == [b"\x02\x00\x00\x00hi"]
    assert [o.name for o in request.outputs] == ["predict"]
    assert request.model_name == "topics"


# --- preprocessing -----------------------------------------------------------------


def fixed_embedding(width: int) -> Any:
    return lambda texts: np.ones((len(texts), width), dtype=np.float32)


def test_text_embedding_sends_the_whole_batch_and_other_preprocesses_one_item() -> None:
    assert Preprocessor("text_embedding", "m").batches(["a", "b"]) == [["a", "b"]]
    assert Preprocessor("text_embedding", "m").batches([]) == []
    assert Preprocessor("text", "m").batches(["a", "b"]) == [["a"], ["b"]]


def test_each_preprocess_builds_its_tensor() -> None:
    text = Preprocessor("text", "m").to_tensor("in", ["hello"])
    embedded = Preprocessor("text_embedding", "m", fixed_embedding(4)).to_tensor("in", ["a", "b"])
    image = Preprocessor("image_rgb", "m").to_tensor("in", [np.zeros((2, 3, 3))])
    audio = Preprocessor("audio_pcm", "m").to_tensor("in", [np.zeros((2, 5), np.float64)])

    assert (text.datatype, text.shape, text.content_type, text.values.tolist()) == (
        "BYTES",
        (1,),
        "str",
        ["hello"],
    )
    assert (embedded.datatype, embedded.shape, embedded.values.dtype.type) == (
        "FP32",
        (2, 4),
        np.float32,
    )
    assert (image.datatype, image.shape, image.values.dtype.type) == ("UINT8", (2, 3, 3), np.uint8)
    assert (audio.datatype, audio.shape, audio.values.dtype.type) == ("FP32", (10,), np.float32)


def test_an_embedding_without_one_row_per_text_is_a_clear_error() -> None:
    preprocessor = Preprocessor("text_embedding", "byo", lambda texts: np.ones(3, np.float32))

    with pytest.raises(RemoteModelError) as failure:
        preprocessor.to_tensor("in", ["a", "b"])

    assert str(failure.value) == (
        "model 'byo': the embedding of 2 texts has shape (3,), not (2, width)"
    )


def test_a_blank_text_is_undecodable() -> None:
    with pytest.raises(UndecodableInput, match=r"^text: the item has no text$"):
        Preprocessor("text", "m").prepare(ModelInput(text="  \n"))


# --- postprocessing ----------------------------------------------------------------


def postprocess(name: str, labels: tuple[str, ...], output: Tensor, rows: int) -> Any:
    return [
        [MessageToDict(label) for label in item]
        for item in Postprocessor(name, labels, ENDPOINT).to_labels(output, rows)
    ]


def classification(name: str, confidence: float) -> dict[str, Any]:
    return {"classification": {"label": name}, "confidence": confidence}


def test_probabilities_are_ranked_clamped_and_cut_to_the_best_five() -> None:
    labels = tuple("abcdef")
    row = [0.1, 1.5, float("nan"), 0.25, -0.5, 0.5]
    output = Tensor("p", "FP32", np.asarray([row], np.float32))

    [ranked] = postprocess("class_probabilities", labels, output, rows=1)

    assert ranked == [
        classification("b", 1.0),
        classification("f", 0.5),
        classification("d", 0.25),
        {"classification": {"label": "a"}, "confidence": pytest.approx(0.1)},
        {"classification": {"label": "e"}},  # clamped to 0, the proto default
    ]


def test_a_one_dimensional_probability_output_is_one_row() -> None:
    output = Tensor("p", "FP64", np.asarray([0.25, 0.75]))

    assert postprocess("class_probabilities", ("a", "b"), output, rows=1) == [
        [classification("b", 0.75), classification("a", 0.25)]
    ]


def test_more_columns_than_labels_names_shape_labels_and_expected_shape() -> None:
    output = Tensor("predict_proba", "FP32", np.zeros((1, 3), np.float32))

    with pytest.raises(RemoteModelError) as failure:
        postprocess("class_probabilities", ("sports", "politics"), output, rows=1)

    assert str(failure.value) == (
        AT + "output 'predict_proba' has shape [1, 3] for 1 item(s), but 2 labels are "
        "registered (sports, politics); expected [1, 2], one column per label in the "
        "registered order"
    )


def test_integer_probabilities_are_refused() -> None:
    output = Tensor("p", "INT64", np.zeros((1, 2), np.int64))

    with pytest.raises(RemoteModelError, match=re.escape("output 'p' is INT64, not FP16")):
        postprocess("class_probabilities", ("a", "b"), output, rows=1)


def test_class_labels_are_names_or_indexes_into_the_labels() -> None:
    names = Tensor("y", "BYTES", np.asarray(["cat", "dog"], dtype=object))
    indexes = Tensor("y", "INT64", np.asarray([[1], [0]], np.int64))

    expected = [[classification("cat", 1.0)], [classification("dog", 1.0)]]
    assert postprocess("class_label", (), names, rows=2) == expected
    assert postprocess("class_label", ("dog", "cat"), indexes, rows=2) == expected


def test_a_class_index_outside_the_labels_is_a_clear_error() -> None:
    output = Tensor("y", "INT64", np.asarray([2], np.int64))

    with pytest.raises(RemoteModelError) as failure:
        postprocess("class_label", ("a", "b"), output, rows=1)

    assert str(failure.value) == AT + "class index 2 is outside the 2 registered labels"


def test_class_labels_must_be_one_per_item() -> None:
    output = Tensor("y", "BYTES", np.asarray(["a"], dtype=object))

    with pytest.raises(RemoteModelError) as failure:
        postprocess("class_label", (), output, rows=2)

    assert str(failure.value) == AT + "output 'y' has shape [1], not one label for each of 2 items"


def test_boxes_come_back_best_first() -> None:
    table = [[10, 20, 30, 40, 0.25, 1], [1, 2, 3, 4, 0.75, 0]]
    output = Tensor("boxes", "FP32", np.asarray(table, np.float32))

    [boxes] = Postprocessor("boxes", ("cat", "dog"), ENDPOINT).to_labels(output, rows=1)

    assert [(b.bounding_box.label, b.bounding_box.x, b.confidence) for b in boxes] == [
        ("cat", 1.0, 0.75),
        ("dog", 10.0, 0.25),
    ]
    assert all(isinstance(box, Label) for box in boxes)


def test_no_boxes_is_an_empty_list_and_a_wrong_width_is_refused() -> None:
    empty = Tensor("boxes", "FP32", np.zeros((0, 6), np.float32))
    five_wide = Tensor("boxes", "FP32", np.zeros((2, 5), np.float32))

    assert postprocess("boxes", ("cat",), empty, rows=1) == [[]]
    with pytest.raises(RemoteModelError) as failure:
        postprocess("boxes", ("cat",), five_wide, rows=1)
    assert str(failure.value) == (
        AT + "output 'boxes' is FP32 [2, 5], not a number table [K, 6] of "
        "x, y, width, height, score, class index"
    )
