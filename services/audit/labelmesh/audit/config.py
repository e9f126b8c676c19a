from labelmesh.core.config import ServiceSettings, port


class AuditSettings(ServiceSettings):
    rest_port: int = port("LABELMESH_AUDIT_REST_PORT", 8085)
    grpc_port: int = port("LABELMESH_AUDIT_GRPC_PORT", 50055)
