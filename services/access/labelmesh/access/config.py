from pathlib import Path

from pydantic import Field, SecretStr

from labelmesh.core.config import ServiceSettings, port


class AccessSettings(ServiceSettings):
    rest_port: int = port("LABELMESH_ACCESS_REST_PORT", 8086)
    grpc_port: int = port("LABELMESH_ACCESS_GRPC_PORT", 50056)
    # Mixed into every key before argon2 hashes it (HMAC-SHA256), so that a copy
    # of the database alone does not allow guessing keys offline.
    key_pepper: SecretStr = Field(
        default=SecretStr(""), validation_alias="LABELMESH_ACCESS_KEY_PEPPER"
    )
    # On a first start with no keys, an admin key is created and its secret
    # written here (mode 0600); empty creates none.
    bootstrap_key_file: Path | None = Field(
        default=None, validation_alias="LABELMESH_ACCESS_BOOTSTRAP_KEY_FILE"
    )
    organization: str = Field(default="default", validation_alias="LABELMESH_ACCESS_ORGANIZATION")
    # OIDC bearer tokens; without a JWKS URL they are refused.
    oidc_issuer: str = Field(default="", validation_alias="LABELMESH_ACCESS_OIDC_ISSUER")
    oidc_audience: str = Field(default="", validation_alias="LABELMESH_ACCESS_OIDC_AUDIENCE")
    oidc_jwks_url: str = Field(default="", validation_alias="LABELMESH_ACCESS_OIDC_JWKS_URL")
    oidc_subject_claim: str = Field(
        default="sub", validation_alias="LABELMESH_ACCESS_OIDC_SUBJECT_CLAIM"
    )
    oidc_leeway_seconds: int = Field(
        default=30, ge=0, le=300, validation_alias="LABELMESH_ACCESS_OIDC_LEEWAY_SECONDS"
    )
    oidc_jwks_refetch_seconds: float = Field(
        default=30, ge=0, le=3600, validation_alias="LABELMESH_ACCESS_OIDC_JWKS_REFETCH_SECONDS"
    )
