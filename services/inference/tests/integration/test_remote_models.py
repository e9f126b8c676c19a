"""Remote models over the Open Inference Protocol, served by a real MLServer.

The classifiers are trained here on MiniLM embeddings, so the test knows the
exact probabilities the server must return, over REST and over gRPC alike.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from google.protobuf.json_format import MessageToDict
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

from labelmesh.devstack.processes import free_port
from labelmesh.inference.adapters.oip import (
    InvalidRemoteModel,
    RemoteModelError,
    RemoteOipModel,
)
from labelmesh.inference.models.base import ModelInput, ModelSpec, Task
from labelmesh.inference.models.minilm import MiniLMEncoder
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import Label
from labelmesh.v1.inference_service_pb2 import RemoteModel, RemoteTransport

pytestmark = pytest.mark.integration

REST = RemoteTransport.REMOTE_TRANSPORT_REST
GRPC = RemoteTransport.REMOTE_TRANSPORT_GRPC
TRANSPORTS = [pytest.param(REST, id="rest"), pytest.param(GRPC, id="grpc")]

TRAINING = [
    ("The striker scored twice in the second half", "sports"),
    ("The goalkeeper saved a penalty in extra time", "sports"),
    ("She won the marathon in record time", "sports"),
    ("The coach was sacked after five straight defeats", "sports"),
    ("The tennis final went to a fifth set", "sports"),
    ("Fans filled the stadium for the derby", "sports"),
    ("The team signed a new midfielder for the season", "sports"),
    ("The cyclist took the yellow jersey on the mountain stage", "sports"),
    ("Parliament passed the budget after a long debate", "politics"),
    ("The senator announced a run for president", "politics"),
    ("Voters head to the polls in the general election", "politics"),
    ("The prime minister reshuffled the cabinet", "politics"),
    ("The opposition called for a vote of no confidence", "politics"),
    ("The new law on immigration was signed by the governor", "politics"),
    ("Ministers met to negotiate the trade treaty", "politics"),
    ("The party chose a new leader at its conference", "politics"),
    ("The new smartphone ships with a faster chip", "technology"),
    ("The startup released an open source database", "technology"),
    ("A software update fixed the security vulnerability", "technology"),
    ("Engineers unveiled a quantum computing processor", "technology"),
    ("The laptop has a brighter screen and longer battery life", "technology"),
    ("The cloud provider launched a new machine learning service", "technology"),
    ("Programmers debate the new version of the language", "technology"),
    ("The robot vacuum maps the house with a laser sensor", "technology"),
]
HELD_OUT = [
    ("The home team won the championship final in overtime", "sports"),
    ("The boxer knocked out the champion in the third round", "sports"),
    ("The president vetoed the bill passed by congress", "politics"),
    ("The election campaign focused on taxes and healthcare", "politics"),
    ("The chipmaker announced a faster graphics card", "technology"),
    ("The app now encrypts messages end to end", "technology"),
]
HELD_OUT_TEXTS = [text for text, _ in HELD_OUT]
BOX_LABELS = ("cat", "dog", "bird")


def train_texts() -> list[str]:
    return [text for text, _ in TRAINING]


def train_topics() -> list[str]:
    return [topic for _, topic in TRAINING]


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder()


@dataclass(frozen=True)
class EmbeddingClassifier:
    """A classifier of MiniLM embeddings, and what it answers for texts here."""

    encoder: MiniLMEncoder
    classifier: LogisticRegression

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.classifier.classes_]

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        probabilities: NDArray[np.float64] = self.classifier.predict_proba(
            self.encoder.encode(texts)
        )
        return probabilities

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [str(c) for c in self.classifier.predict(self.encoder.encode(texts))]


@pytest.fixture(scope="module")
def on_embeddings(encoder: MiniLMEncoder) -> EmbeddingClassifier:
    """The classifier MLServer serves as "topics"."""
    classifier = LogisticRegression(max_iter=1000)
    return EmbeddingClassifier(
        encoder, classifier.fit(encoder.encode(train_texts()), train_topics())
    )


@pytest.fixture(scope="module")
def on_text() -> Pipeline:
    return make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000)).fit(
        train_texts(), train_topics()
    )


def pixel_boxes() -> FunctionTransformer:
    """A stand-in detector that reads its [K, 6] boxes straight out of the
    pixels, so the test knows the answer. The keyword is for the server's numpy."""
    return FunctionTransformer(np.reshape, kw_args={"shape": (-1, 6)})


def save_model(repository: Path, name: str, model: object) -> None:
    folder = repository / name
    folder.mkdir()
    joblib.dump(model, folder / "model.joblib")
    settings = {
        "name": name,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": str(folder / "model.joblib"), "version": "v1"},
    }
    (folder / "model-settings.json").write_text(json.dumps(settings))


@pytest.fixture(scope="module")
def mlserver_repository(
    tmp_path_factory: pytest.TempPathFactory,
    on_embeddings: EmbeddingClassifier,
    on_text: Pipeline,
) -> Path:
    repository = tmp_path_factory.mktemp("mlserver")
    save_model(repository, "topics", on_embeddings.classifier)
    save_model(repository, "topics-from-text", on_text)
    save_model(repository, "pixel-boxes", pixel_boxes())
    return repository


@pytest.fixture(scope="module")
def urls(mlserver_rest_url: str, mlserver_grpc_url: str) -> dict[RemoteTransport, str]:
    return {REST: mlserver_rest_url, GRPC: mlserver_grpc_url}


def spec(labels: Sequence[str]) -> ModelSpec:
    return ModelSpec(
        id="byo",
        version="1",
        task=Task.CLASSIFICATION,
        data_type=DataType.DATA_TYPE_TEXT,
        labels=tuple(labels),
        description="a model served by MLServer",
    )


def remote(transport: RemoteTransport, url: str, **fields: Any) -> RemoteModel:
    declared: dict[str, Any] = {
        "name": "topics",
        "preprocess": "text_embedding",
        "postprocess": "class_probabilities",
        "output": "predict_proba",
        "timeout_seconds": 10.0,
        **fields,
    }
    return RemoteModel(url=url, transport=transport, **declared)


ModelLoader = Callable[[Sequence[str], RemoteModel], RemoteOipModel]


@pytest.fixture
def load_model(encoder: MiniLMEncoder) -> Iterator[ModelLoader]:
    """Builds and loads a remote model; closes every one at the end of the test."""
    opened: list[RemoteOipModel] = []

    def load(labels: Sequence[str], declared: RemoteModel) -> RemoteOipModel:
        model = RemoteOipModel(spec(labels), declared, embed=encoder.encode)
        opened.append(model)
        model.load()
        return model

    yield load
    for model in opened:
        model.close()


@dataclass(frozen=True)
class Server:
    """MLServer over one transport, where the test loads the models it declares."""

    transport: RemoteTransport
    url: str
    load_model: ModelLoader

    def load(self, labels: Sequence[str], **fields: Any) -> RemoteOipModel:
        """Load the model `remote` declares here, with `fields` in place of its defaults."""
        return self.load_model(labels, remote(self.transport, self.url, **fields))


@pytest.fixture(params=TRANSPORTS)
def server(
    request: pytest.FixtureRequest, urls: dict[RemoteTransport, str], load_model: ModelLoader
) -> Server:
    """The server over REST, then over gRPC."""
    transport: RemoteTransport = request.param
    return Server(transport, urls[transport], load_model)


def predict_texts(model: RemoteOipModel, texts: Sequence[str]) -> list[list[Label]]:
    return model.predict([model.prepare(ModelInput(text=text)) for text in texts])


def as_dicts(predictions: list[list[Label]]) -> list[list[dict[str, object]]]:
    return [[MessageToDict(label) for label in labels] for labels in predictions]


def assert_probabilities(
    predictions: list[list[Label]], expected: NDArray[np.float64], classes: Sequence[str]
) -> None:
    for labels, row in zip(predictions, expected, strict=True):
        got = {label.classification.label: label.confidence for label in labels}
        assert got == pytest.approx(dict(zip(classes, row.tolist(), strict=True)), abs=1e-5)
        assert [label.confidence for label in labels] == sorted(got.values(), reverse=True)


def test_held_out_sentences_get_the_local_classifiers_probabilities(
    server: Server, on_embeddings: EmbeddingClassifier
) -> None:
    model = server.load(on_embeddings.classes)

    predictions = predict_texts(model, HELD_OUT_TEXTS)

    assert [labels[0].classification.label for labels in predictions] == [t for _, t in HELD_OUT]
    expected = on_embeddings.predict_proba(HELD_OUT_TEXTS)
    assert_probabilities(predictions, expected, on_embeddings.classes)


def test_both_transports_give_identical_labels(
    urls: dict[RemoteTransport, str], on_embeddings: EmbeddingClassifier, load_model: ModelLoader
) -> None:
    classes = on_embeddings.classes
    over_rest = load_model(classes, remote(REST, urls[REST]))
    over_grpc = load_model(classes, remote(GRPC, urls[GRPC]))

    assert as_dicts(predict_texts(over_rest, HELD_OUT_TEXTS)) == as_dicts(
        predict_texts(over_grpc, HELD_OUT_TEXTS)
    )


def test_a_class_label_output_becomes_a_certain_classification(
    server: Server, on_embeddings: EmbeddingClassifier
) -> None:
    model = server.load((), postprocess="class_label", output="predict")

    predictions = predict_texts(model, HELD_OUT_TEXTS)

    expected = on_embeddings.predict(HELD_OUT_TEXTS)
    assert [[(lb.classification.label, lb.confidence) for lb in p] for p in predictions] == [
        [(topic, 1.0)] for topic in expected
    ]


def test_raw_text_goes_as_one_bytes_tensor_per_item(server: Server, on_text: Pipeline) -> None:
    classes = [str(c) for c in on_text.classes_]
    model = server.load(classes, name="topics-from-text", preprocess="text")

    predictions = predict_texts(model, HELD_OUT_TEXTS)

    assert_probabilities(predictions, on_text.predict_proba(HELD_OUT_TEXTS), classes)


def test_an_image_goes_as_uint8_pixels_and_boxes_come_back_ranked(server: Server) -> None:
    model = server.load(
        BOX_LABELS,
        name="pixel-boxes",
        preprocess="image_rgb",
        postprocess="boxes",
        output="transform",
    )
    # Two boxes hidden in a 2 x 2 RGB image: x, y, width, height, score, class.
    pixels = np.array([10, 20, 30, 40, 0, 2, 1, 2, 3, 4, 1, 0], np.uint8).reshape(2, 2, 3)

    [boxes] = model.predict([pixels])

    assert [MessageToDict(box) for box in boxes] == [
        {
            "boundingBox": {"label": "cat", "x": 1.0, "y": 2.0, "width": 3.0, "height": 4.0},
            "confidence": 1.0,
        },
        {"boundingBox": {"label": "bird", "x": 10.0, "y": 20.0, "width": 30.0, "height": 40.0}},
    ]


def test_an_unknown_model_fails_to_load_naming_model_url_and_reason(server: Server) -> None:
    with pytest.raises(RemoteModelError) as failure:
        server.load(("a",), name="no-such-model")

    message = str(failure.value)
    assert "'no-such-model'" in message
    assert server.url in message
    assert "not found" in message.lower()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_unreachable_server_fails_to_load_naming_the_url(
    transport: RemoteTransport, load_model: ModelLoader
) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    url = f"http://{nowhere}" if transport == REST else nowhere

    with pytest.raises(RemoteModelError, match=r"cannot reach|UNAVAILABLE") as failure:
        load_model(("a",), remote(transport, url))

    assert url in str(failure.value)


def test_more_columns_than_labels_is_a_clear_error(server: Server) -> None:
    model = server.load(("sports", "politics"))

    with pytest.raises(RemoteModelError, match=r"shape \[1, 3\].*2 labels") as failure:
        predict_texts(model, HELD_OUT_TEXTS[:1])

    assert "'predict_proba'" in str(failure.value)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """`host:port` of a socket that accepts connections and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        host, port = listener.getsockname()
        yield f"{host}:{port}"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_no_answer_within_the_timeout_is_a_clear_error(
    transport: RemoteTransport, silent_server: str, load_model: ModelLoader
) -> None:
    url = f"http://{silent_server}" if transport == REST else silent_server
    started = time.monotonic()

    with pytest.raises(RemoteModelError, match=r"no answer within 0.3s") as failure:
        load_model(("a", "b", "c"), remote(transport, url, timeout_seconds=0.3))

    assert 0.3 <= time.monotonic() - started < 3
    assert url in str(failure.value)


@pytest.mark.parametrize(
    ("field", "declared"),
    [
        ("remote.preprocess", {"preprocess": "video"}),
        ("remote.postprocess", {"postprocess": "masks"}),
        ("remote.transport", {"transport": RemoteTransport.REMOTE_TRANSPORT_UNSPECIFIED}),
        ("remote.url", {"url": "localhost:8080"}),
        ("remote.name", {"name": ""}),
        ("remote.timeout_seconds", {"timeout_seconds": -1.0}),
        ("labels", {"labels": ()}),
        ("remote.postprocess", {"preprocess": "text_embedding", "postprocess": "boxes"}),
    ],
)
def test_a_declaration_that_cannot_work_is_refused_naming_the_field(
    field: str, declared: dict[str, Any], encoder: MiniLMEncoder
) -> None:
    labels = declared.get("labels", ("a", "b"))
    fields = {"transport": REST, "url": "http://localhost:8080", **declared}
    fields.pop("labels", None)

    with pytest.raises(InvalidRemoteModel, match=f"^{re.escape(field)}: ") as failure:
        RemoteOipModel(spec(labels), remote(**fields), embed=encoder.encode)

    assert failure.value.field == field


def test_text_embedding_needs_an_embedding_model() -> None:
    with pytest.raises(InvalidRemoteModel, match="needs an embedding model"):
        RemoteOipModel(spec(("a",)), remote(REST, "http://localhost:8080"))
