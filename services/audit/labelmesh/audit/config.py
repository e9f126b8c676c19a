from pydantic import Field

from labelmesh.core.config import ServiceSettings


class AuditSettings(ServiceSettings):
    rest_port: int = Field(
        default=8085, ge=0, le=65535, validation_alias="LABELMESH_AUDIT_REST_PORT"
    )
    grpc_port: int = Field(
        default=50055, ge=0, le=65535, validation_alias="LABELMESH_AUDIT_GRPC_PORT"
    )
