"""What a failed call raises: one class per kind of answer, each with the
server's own words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class FieldViolation:
    """A field of a request and why the server refused it."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


class LabelMeshError(Exception):
    """Any error of the SDK."""


class ApiError(LabelMeshError):
    """The server answered with an error status."""

    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.body = body


class Unauthenticated(ApiError):
    """401: no credential, or one the server does not accept."""


class Forbidden(ApiError):
    """403: the credential lacks the right."""


class NotFound(ApiError):
    """404: no such resource, or one of a project the caller holds no role in."""


class Conflict(ApiError):
    """409: the request conflicts with the resource's state."""


class InvalidRequest(ApiError):
    """422: the server names each field at fault."""

    def __init__(self, status: int, violations: list[FieldViolation], body: Any) -> None:
        message = "; ".join(str(v) for v in violations) or "invalid request"
        super().__init__(status, message, body)
        self.violations = violations


class Overloaded(ApiError):
    """429 or 503: the server shed the request; `retry_after` is its advice in seconds."""

    def __init__(self, status: int, message: str, body: Any, retry_after: float | None) -> None:
        super().__init__(status, message, body)
        self.retry_after = retry_after


class Unreachable(LabelMeshError):
    """The request did not get an answer: connection refused, reset or timed out."""


ERRORS: dict[int, type[ApiError]] = {
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
}


def error_of(response: httpx.Response) -> ApiError:
    """The error a response with an error status stands for."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    detail = body.get("detail", body) if isinstance(body, dict) else body
    status = response.status_code
    if status == 422:
        return InvalidRequest(status, violations_of(detail), body)
    message = detail if isinstance(detail, str) else str(detail)
    if status in (429, 503):
        return Overloaded(status, message, body, retry_after_of(response))
    return ERRORS.get(status, ApiError)(status, message, body)


def violations_of(detail: Any) -> list[FieldViolation]:
    """LabelMesh's `{"detail": [{"field", "msg"}]}`, or FastAPI's own `loc` form."""
    if not isinstance(detail, list):
        return [FieldViolation("", str(detail))]
    violations = []
    for entry in detail:
        if not isinstance(entry, dict):
            violations.append(FieldViolation("", str(entry)))
            continue
        field = entry.get("field") or ".".join(str(p) for p in entry.get("loc", ()))
        violations.append(FieldViolation(str(field), str(entry.get("msg", entry))))
    return violations


def retry_after_of(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
