"""gRPC calls signed as the person their request names, as `StackKeys.sign`
does for REST: the flows name annotators and reviewers in their requests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from labelmesh.devstack.keys import StackKeys
from labelmesh.testing.access import message_subject


def signed_channel(keys: StackKeys, target: str) -> grpc.Channel:
    """A channel whose calls carry the key of the person their request names."""
    return grpc.intercept_channel(grpc.insecure_channel(target), _Signing(keys.key_of))


class _Signing(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.StreamUnaryClientInterceptor,  # type: ignore[misc]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
):
    def __init__(self, key_of: Callable[[str], str]) -> None:
        self.key_of = key_of

    def _details(self, details: Any, subject: str) -> Any:
        metadata = [*(details.metadata or ()), ("authorization", f"Bearer {self.key_of(subject)}")]
        return _Details(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            details.wait_for_ready,
            details.compression,
        )

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details, message_subject(request, "")), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details, message_subject(request, "")), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details, ""), requests)


class _Details(grpc.ClientCallDetails):  # type: ignore[misc]
    def __init__(
        self,
        method: str,
        timeout: float | None,
        metadata: Any,
        credentials: Any,
        wait_for_ready: bool | None,
        compression: Any,
    ) -> None:
        self.method = method
        self.timeout = timeout
        self.metadata = metadata
        self.credentials = credentials
        self.wait_for_ready = wait_for_ready
        self.compression = compression
