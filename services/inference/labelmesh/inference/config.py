from pydantic import Field

from labelmesh.core.config import ServiceSettings, port

SERVICE = "inference"


class InferenceSettings(ServiceSettings):
    rest_port: int = port("LABELMESH_INFERENCE_REST_PORT", 8082)
    grpc_port: int = port("LABELMESH_INFERENCE_GRPC_PORT", 50052)
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
    # Media that stays in a customer's bucket is read from its presigned URL:
    # at most this many bytes (as an item ingest stores), within this time.
    max_media_url_bytes: int = Field(
        default=100 * 1024 * 1024, gt=0, validation_alias="LABELMESH_INFERENCE_MAX_MEDIA_URL_BYTES"
    )
    media_url_timeout_seconds: float = Field(
        default=60.0, gt=0, validation_alias="LABELMESH_INFERENCE_MEDIA_URL_TIMEOUT_SECONDS"
    )
