"""The REST transport of the Open Inference Protocol: JSON over HTTP."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from labelmesh.inference.adapters.oip.tensors import Tensor, tensor_from_json, tensor_to_json
from labelmesh.inference.adapters.oip.transport import (
    MAX_REASON_CHARS,
    Endpoint,
    missing_output,
    unreadable,
)


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


def pick_output(outputs: list[dict[str, Any]], name: str, endpoint: Endpoint) -> dict[str, Any]:
    for candidate in outputs:
        if name in ("", candidate.get("name")):
            return candidate
    raise endpoint.error(missing_output(name, [str(o.get("name")) for o in outputs]))
