from pydantic import Field, field_validator

from labelmesh.core.config import ServiceSettings, port
from labelmesh.ingest.addresses import Network, parse_networks


class IngestSettings(ServiceSettings):
    rest_port: int = port("LABELMESH_INGEST_REST_PORT", 8081)
    grpc_port: int = port("LABELMESH_INGEST_GRPC_PORT", 50051)
    # URL and manifest imports fetch and store many items in one request, and a
    # request's MongoDB commands share its deadline: longer here than the 5 s of others.
    request_deadline_seconds: float = Field(default=300.0, gt=0)
    max_item_bytes: int = Field(
        default=100 * 1024 * 1024, gt=0, validation_alias="LABELMESH_INGEST_MAX_ITEM_BYTES"
    )
    # URL imports reach public addresses only, and these networks besides
    # (comma-separated CIDRs, such as "10.20.0.0/16"): say which private hosts may be read.
    url_allow_networks: str = Field(
        default="", validation_alias="LABELMESH_INGEST_URL_ALLOW_NETWORKS"
    )
    url_connect_timeout_seconds: float = Field(
        default=5.0, gt=0, validation_alias="LABELMESH_INGEST_URL_CONNECT_TIMEOUT_SECONDS"
    )
    # The whole fetch of one URL, its redirects included.
    url_timeout_seconds: float = Field(
        default=60.0, gt=0, validation_alias="LABELMESH_INGEST_URL_TIMEOUT_SECONDS"
    )
    url_fetch_concurrency: int = Field(
        default=8, ge=1, le=64, validation_alias="LABELMESH_INGEST_URL_FETCH_CONCURRENCY"
    )
    # The bytes one request's URLs may bring together; 0: as much as a file upload may.
    url_batch_max_bytes: int = Field(
        default=0, ge=0, validation_alias="LABELMESH_INGEST_URL_BATCH_MAX_BYTES"
    )

    # Bucket syncs queued at once over all buckets; past it, asking is refused (429).
    bucket_sync_max_waiting: int = Field(
        default=100, ge=1, validation_alias="LABELMESH_INGEST_BUCKET_SYNC_MAX_WAITING"
    )

    @field_validator("url_allow_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @property
    def url_allowed_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.url_allow_networks)

    @property
    def url_batch_bytes(self) -> int:
        return self.url_batch_max_bytes or self.max_item_bytes + self.max_request_bytes
