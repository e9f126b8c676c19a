"""Wiring of the ingest service: adapters into use cases, handlers and APIs."""

from __future__ import annotations

from labelmesh.core.platform import Platform
from labelmesh.core.runner import ServiceDefinition
from labelmesh.core.storage import object_store_from_settings
from labelmesh.ingest import handlers
from labelmesh.ingest.adapters.repository import IngestRepository
from labelmesh.ingest.api import grpc, rest
from labelmesh.ingest.config import IngestSettings
from labelmesh.ingest.metrics import IngestMetrics
from labelmesh.ingest.usecases import SERVICE, Ingest


def build(settings: IngestSettings) -> ServiceDefinition:
    platform = Platform(SERVICE, settings)
    repository = IngestRepository(platform.db)
    store = object_store_from_settings(settings)
    ingest = Ingest(
        repository, store, platform.uow, IngestMetrics(platform.registry), settings.max_item_bytes
    )

    async def on_start() -> None:
        await repository.ensure_indexes()
        await store.ensure_ready()

    return ServiceDefinition(
        name=SERVICE,
        platform=platform,
        settings=settings,
        usecases=ingest,
        router=rest.router(ingest),
        grpc_services=[grpc.grpc_service(ingest)],
        handlers=handlers.HANDLERS,
        consumes=handlers.CONSUMES,
        deps=handlers.Deps(platform.uow, repository),
        on_start=on_start,
    )
