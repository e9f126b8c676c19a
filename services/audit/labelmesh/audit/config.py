from pydantic import Field

from labelmesh.core.config import ServiceSettings, port


class AuditSettings(ServiceSettings):
    rest_port: int = port("LABELMESH_AUDIT_REST_PORT", 8085)
    grpc_port: int = port("LABELMESH_AUDIT_GRPC_PORT", 50055)
    # A project gets a checkpoint once this many entries arrived since its last
    # one, or at the latest this many seconds after them.
    checkpoint_entries: int = Field(
        1000, ge=1, validation_alias="LABELMESH_AUDIT_CHECKPOINT_ENTRIES"
    )
    checkpoint_seconds: float = Field(
        10.0, gt=0, validation_alias="LABELMESH_AUDIT_CHECKPOINT_SECONDS"
    )
