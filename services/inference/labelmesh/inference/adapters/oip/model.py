"""`RemoteOipModel`: the model port implemented by a transport to the server
and the declared pre- and postprocess."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labelmesh.inference.adapters.oip.grpc import GrpcTransport
from labelmesh.inference.adapters.oip.processing import Embed, Postprocessor, Preprocessor
from labelmesh.inference.adapters.oip.rest import RestTransport
from labelmesh.inference.adapters.oip.transport import Endpoint, Transport
from labelmesh.inference.adapters.oip.validation import validate
from labelmesh.inference.models.base import Model, ModelInput, ModelSpec
from labelmesh.v1.geometry_pb2 import Label
from labelmesh.v1.inference_service_pb2 import RemoteModel, RemoteTransport

DEFAULT_TIMEOUT_SECONDS = 30.0
# MLServer's name for an undeclared first input; used when metadata names none.
DEFAULT_INPUT_NAME = "input-0"


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
        self.preprocessor = Preprocessor(remote.preprocess, spec.id, embed)
        self.postprocessor = Postprocessor(remote.postprocess, spec.labels, self.endpoint)
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
        return self.preprocessor.prepare(item)

    def predict(self, prepared: Sequence[Any]) -> list[list[Label]]:
        transport = self._open()
        labels: list[list[Label]] = []
        for batch in self.preprocessor.batches(prepared):
            tensor = self.preprocessor.to_tensor(self.input_name, batch)
            output = transport.infer(tensor, self.remote.output)
            labels.extend(self.postprocessor.to_labels(output, len(batch)))
        return labels

    def _open(self) -> Transport:
        if self._transport is None:
            if self.remote.transport == RemoteTransport.REMOTE_TRANSPORT_GRPC:
                self._transport = GrpcTransport(self.endpoint)
            else:
                self._transport = RestTransport(self.endpoint)
        return self._transport
