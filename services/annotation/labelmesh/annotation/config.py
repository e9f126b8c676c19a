from pydantic import Field

from labelmesh.core.config import ServiceSettings

SERVICE = "annotation"


class AnnotationSettings(ServiceSettings):
    rest_port: int = Field(
        default=8083, ge=0, le=65535, validation_alias="LABELMESH_ANNOTATION_REST_PORT"
    )
    grpc_port: int = Field(
        default=50053, ge=0, le=65535, validation_alias="LABELMESH_ANNOTATION_GRPC_PORT"
    )
