"""The LabelMesh Python SDK."""

from labelmesh.sdk.client import AsyncClient, Client
from labelmesh.sdk.endpoints import Endpoints
from labelmesh.sdk.errors import (
    ApiError,
    Conflict,
    FieldViolation,
    Forbidden,
    InvalidRequest,
    LabelMeshError,
    NotFound,
    Overloaded,
    Unauthenticated,
    Unreachable,
)
from labelmesh.sdk.records import UploadRecord
from labelmesh.sdk.sources import Columns, Source
from labelmesh.sdk.transport import RetryPolicy
from labelmesh.sdk.uploads import UploadReport

__all__ = [
    "ApiError",
    "AsyncClient",
    "Client",
    "Columns",
    "Conflict",
    "Endpoints",
    "FieldViolation",
    "Forbidden",
    "InvalidRequest",
    "LabelMeshError",
    "NotFound",
    "Overloaded",
    "RetryPolicy",
    "Source",
    "Unauthenticated",
    "Unreachable",
    "UploadRecord",
    "UploadReport",
]
