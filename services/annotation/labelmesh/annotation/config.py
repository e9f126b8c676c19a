from labelmesh.core.config import ServiceSettings, port

SERVICE = "annotation"


class AnnotationSettings(ServiceSettings):
    rest_port: int = port("LABELMESH_ANNOTATION_REST_PORT", 8083)
    grpc_port: int = port("LABELMESH_ANNOTATION_GRPC_PORT", 50053)
