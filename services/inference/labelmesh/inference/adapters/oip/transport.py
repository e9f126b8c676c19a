"""What the REST and gRPC transports share: the interface the model calls, the
endpoint they reach, and the wording of their failures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from labelmesh.inference.adapters.oip.tensors import Tensor

MAX_REASON_CHARS = 500


class RemoteModelError(RuntimeError):
    """The remote model failed to answer, or answered something unusable."""


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


def unreadable(endpoint: Endpoint, exc: Exception) -> RemoteModelError:
    return endpoint.error(f"the answer is not a readable tensor ({exc!r})")


def missing_output(name: str, present: list[str]) -> str:
    wanted = f"output {name!r}" if name else "an output"
    return f"the answer has no {wanted}; it has {present}"
