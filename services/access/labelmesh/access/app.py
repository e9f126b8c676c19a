"""Wiring of the access service."""

from __future__ import annotations

from dataclasses import dataclass

from labelmesh.access.adapters.repository import MongoAccessRepository
from labelmesh.access.api import grpc, rest
from labelmesh.access.authenticator import LocalAuthenticator
from labelmesh.access.config import AccessSettings
from labelmesh.access.hashing import KeyHasher
from labelmesh.access.metrics import AccessMetrics
from labelmesh.access.oidc import OidcVerifier
from labelmesh.access.usecases import SERVICE, Access
from labelmesh.core.platform import Platform
from labelmesh.core.runner import ServiceDefinition


@dataclass(frozen=True)
class AccessApp:
    access: Access
    repository: MongoAccessRepository
    service: ServiceDefinition


def oidc_verifier(settings: AccessSettings) -> OidcVerifier | None:
    if not settings.oidc_jwks_url:
        return None
    return OidcVerifier(
        settings.oidc_issuer,
        settings.oidc_audience,
        settings.oidc_jwks_url,
        settings.oidc_subject_claim,
        settings.oidc_leeway_seconds,
        settings.oidc_jwks_refetch_seconds,
    )


def build_app(settings: AccessSettings) -> AccessApp:
    platform = Platform(SERVICE, settings)
    repository = MongoAccessRepository(platform.db)
    access = Access(
        repository,
        platform.uow,
        KeyHasher(settings.key_pepper.get_secret_value()),
        AccessMetrics(platform.registry),
        settings.organization,
        oidc_verifier(settings),
    )
    platform.authenticator = platform.rate_limited(LocalAuthenticator(access))

    async def on_start() -> None:
        await repository.ensure_indexes()
        if settings.bootstrap_key_file is not None:
            await access.bootstrap(settings.bootstrap_key_file)

    service = ServiceDefinition(
        platform=platform,
        router=rest.router(access),
        grpc_services=[grpc.grpc_service(access, platform.authenticator)],
        on_start=on_start,
    )
    return AccessApp(access, repository, service)


def build(settings: AccessSettings) -> ServiceDefinition:
    return build_app(settings).service
