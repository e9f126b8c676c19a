from pydantic import Field

from labelmesh.core.config import ServiceSettings

SERVICE = "inference"


class InferenceSettings(ServiceSettings):
    rest_port: int = Field(
        default=8082, ge=0, le=65535, validation_alias="LABELMESH_INFERENCE_REST_PORT"
    )
    grpc_port: int = Field(
        default=50052, ge=0, le=65535, validation_alias="LABELMESH_INFERENCE_GRPC_PORT"
    )
    max_batch_size: int = Field(
        default=32, ge=1, validation_alias="LABELMESH_INFERENCE_MAX_BATCH_SIZE"
    )
    max_batch_wait_seconds: float = Field(
        default=0.01, ge=0, validation_alias="LABELMESH_INFERENCE_MAX_BATCH_WAIT_SECONDS"
    )
    model_timeout_seconds: float = Field(
        default=60.0, gt=0, validation_alias="LABELMESH_INFERENCE_MODEL_TIMEOUT_SECONDS"
    )
    max_items_in_flight: int = Field(
        default=256, ge=1, validation_alias="LABELMESH_INFERENCE_MAX_ITEMS_IN_FLIGHT"
    )
