from pydantic import Field

from labelmesh.core.config import ServiceSettings


class ReviewSettings(ServiceSettings):
    rest_port: int = Field(
        default=8084, ge=0, le=65535, validation_alias="LABELMESH_REVIEW_REST_PORT"
    )
    grpc_port: int = Field(
        default=50054, ge=0, le=65535, validation_alias="LABELMESH_REVIEW_GRPC_PORT"
    )
