"""Settings shared by every service, read once from `LABELMESH_*` variables.

The defaults point at the embedded stack that `make run` starts; a cluster
overrides them through the environment (see README, "External infrastructure").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound=BaseSettings)
DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


class CoreSettings(BaseSettings):
    """Infrastructure endpoints and switches common to all services."""

    model_config = SettingsConfigDict(
        env_prefix="LABELMESH_", extra="ignore", frozen=True, populate_by_name=True
    )

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = "labelmesh"
    mongo_uri: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongo_database: str = "labelmesh"
    object_store: Literal["local", "s3"] = "local"
    media_dir: Path = Path(".data/media")
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "labelmesh-media"
    s3_region: str = "us-east-1"
    s3_secure: bool = False
    bind_host: str = "127.0.0.1"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    handler_max_attempts: int = Field(default=5, ge=1)
    handler_retry_backoff_seconds: float = Field(default=0.2, gt=0)
    outbox_poll_seconds: float = Field(default=0.2, gt=0)
    # Overload: requests past these limits are answered at once (429 /
    # RESOURCE_EXHAUSTED) rather than queued into a stall. README, "Overload".
    max_requests_in_flight: int = Field(default=64, ge=1)
    admission_wait_seconds: float = Field(default=0.05, ge=0)
    request_deadline_seconds: float = Field(default=5.0, gt=0)
    retry_after_seconds: int = Field(default=1, ge=1)
    shutdown_grace_seconds: float = Field(default=4.0, gt=0)
    # Every service asks the access service who a credential stands for, and
    # keeps the answer this long: the longest a revoked key still works.
    access_grpc_target: str = "127.0.0.1:50056"
    auth_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    # Requests per second each credential may make to one replica, and the burst.
    rate_limit_per_second: float = Field(default=1000.0, gt=0)
    rate_limit_burst: int = Field(default=2000, ge=1)
    # The largest request body REST accepts; gRPC messages are held to the same.
    max_request_bytes: int = Field(default=DEFAULT_MAX_REQUEST_BYTES, ge=1024)
    # TLS: with a certificate and its key, REST serves HTTPS and gRPC serves TLS;
    # with a CA file, calls to other services (the access service) verify them.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_ca_file: Path | None = None

    @model_validator(mode="after")
    def _certificate_with_key(self) -> CoreSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError(
                "LABELMESH_TLS_CERT_FILE and LABELMESH_TLS_KEY_FILE: set both or neither"
            )
        return self


class ServiceSettings(CoreSettings):
    """A service's ports. Each service's subclass aliases them to
    `LABELMESH_<SVC>_REST_PORT` and `LABELMESH_<SVC>_GRPC_PORT`."""

    rest_port: int = Field(default=0, ge=0, le=65535)
    grpc_port: int = Field(default=0, ge=0, le=65535)


def port(variable: str, default: int) -> Any:
    """A port setting, read from the environment variable `variable`."""
    return Field(default=default, ge=0, le=65535, validation_alias=variable)


def load(settings_class: type[S]) -> S:
    """Read settings from the environment, or stop with a message naming the variable."""
    try:
        return settings_class()
    except ValidationError as exc:
        prefix = settings_class.model_config.get("env_prefix", "")
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "?"
            variable = name if name.startswith("LABELMESH_") else f"{prefix}{name}".upper()
            problems.append(f"{variable}={error.get('input')!r}: {error['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
