"""Errors the application raises; the APIs and the consumer loop translate them."""

from __future__ import annotations


class LabelMeshError(Exception):
    """Base of every error LabelMesh raises on purpose."""


class InvalidField(LabelMeshError):
    """A request field is wrong. Maps to HTTP 422 and INVALID_ARGUMENT."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFound(LabelMeshError):
    """A named thing does not exist. Maps to HTTP 404 and NOT_FOUND."""

    def __init__(self, kind: str, identifier: str) -> None:
        super().__init__(f"{kind} {identifier!r} not found")
        self.kind = kind
        self.identifier = identifier


class Conflict(LabelMeshError):
    """The request clashes with current state. Maps to HTTP 409 and ABORTED."""


class RetryLater(LabelMeshError):
    """A handler cannot proceed yet (for example, a project not yet known);
    the consumer retries it with backoff."""


class PoisonMessage(LabelMeshError):
    """An event can never be handled; the consumer dead-letters it at once."""
