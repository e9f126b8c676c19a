from pydantic import Field

from labelmesh.core.config import ServiceSettings, port


class IngestSettings(ServiceSettings):
    rest_port: int = port("LABELMESH_INGEST_REST_PORT", 8081)
    grpc_port: int = port("LABELMESH_INGEST_GRPC_PORT", 50051)
    max_item_bytes: int = Field(
        default=100 * 1024 * 1024, gt=0, validation_alias="LABELMESH_INGEST_MAX_ITEM_BYTES"
    )
