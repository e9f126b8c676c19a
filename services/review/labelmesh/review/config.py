from labelmesh.core.config import ServiceSettings, port


class ReviewSettings(ServiceSettings):
    rest_port: int = port("LABELMESH_REVIEW_REST_PORT", 8084)
    grpc_port: int = port("LABELMESH_REVIEW_GRPC_PORT", 50054)
