from labelmesh.core.config import ServiceSettings, port


class DatasetSettings(ServiceSettings):
    rest_port: int = port("LABELMESH_DATASET_REST_PORT", 8087)
    grpc_port: int = port("LABELMESH_DATASET_GRPC_PORT", 50057)
