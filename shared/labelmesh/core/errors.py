"""Errors the application raises; the APIs and the consumer loop translate them."""

from __future__ import annotations

from labelmesh.v1.events_pb2 import Actor


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


class Unauthenticated(LabelMeshError):
    """No credential, or one that is unknown, expired or revoked. Maps to HTTP
    401 and UNAUTHENTICATED; the message never repeats the credential."""


class Forbidden(LabelMeshError):
    """The caller may see the resource but not do this to it. Maps to HTTP 403
    and PERMISSION_DENIED. `actor` and `project_id` say who was refused where,
    for the audit log."""

    def __init__(self, message: str, actor: Actor | None = None, project_id: str = "") -> None:
        super().__init__(message)
        self.actor = actor
        self.project_id = project_id


class RateLimited(LabelMeshError):
    """The caller's credential spent its request rate. Maps to HTTP 429 and
    RESOURCE_EXHAUSTED, with the seconds to wait."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(LabelMeshError):
    """A service this request depends on cannot be reached. Maps to HTTP 503 and UNAVAILABLE."""


class RetryLater(LabelMeshError):
    """A handler cannot proceed yet (for example, a project not yet known);
    the consumer retries it with backoff."""


class PoisonMessage(LabelMeshError):
    """An event can never be handled; the consumer dead-letters it at once."""
