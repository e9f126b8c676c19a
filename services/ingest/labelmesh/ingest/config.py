from pydantic import Field

from labelmesh.core.config import ServiceSettings


class IngestSettings(ServiceSettings):
    rest_port: int = Field(
        default=8081, ge=0, le=65535, validation_alias="LABELMESH_INGEST_REST_PORT"
    )
    grpc_port: int = Field(
        default=50051, ge=0, le=65535, validation_alias="LABELMESH_INGEST_GRPC_PORT"
    )
    max_item_bytes: int = Field(
        default=100 * 1024 * 1024, gt=0, validation_alias="LABELMESH_INGEST_MAX_ITEM_BYTES"
    )
