import tempfile
from pathlib import Path

from pydantic import Field

from labelmesh.core.config import ServiceSettings, port


class DatasetSettings(ServiceSettings):
    rest_port: int = port("LABELMESH_DATASET_REST_PORT", 8087)
    grpc_port: int = port("LABELMESH_DATASET_GRPC_PORT", 50057)
    # Making a version reads the whole projection of a project: about 190 s at
    # a million items on SecantusDB here, so the dataset service allows its
    # requests three times that.
    request_deadline_seconds: float = Field(default=600.0, gt=0)
    # Where export archives are built before they go to the object store.
    export_dir: Path = Field(
        default=Path(tempfile.gettempdir()) / "labelmesh-exports",
        validation_alias="LABELMESH_DATASET_EXPORT_DIR",
    )
    # Queued exports past which new ones are refused with 429 / RESOURCE_EXHAUSTED.
    max_waiting_exports: int = Field(
        default=32, ge=1, validation_alias="LABELMESH_DATASET_MAX_WAITING_EXPORTS"
    )
