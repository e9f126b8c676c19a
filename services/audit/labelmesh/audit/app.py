"""Wiring of the audit service."""

from __future__ import annotations

from labelmesh.audit import handlers
from labelmesh.audit.adapters.repository import AuditRepository
from labelmesh.audit.api import grpc, rest
from labelmesh.audit.config import AuditSettings
from labelmesh.audit.metrics import AuditMetrics
from labelmesh.audit.usecases import SERVICE, Audit
from labelmesh.core.platform import Platform
from labelmesh.core.runner import ServiceDefinition


def build(settings: AuditSettings) -> ServiceDefinition:
    platform = Platform(SERVICE, settings)
    repository = AuditRepository(platform.db)
    audit = Audit(repository, platform.uow, AuditMetrics(platform.registry))
    return ServiceDefinition(
        name=SERVICE,
        platform=platform,
        settings=settings,
        usecases=audit,
        router=rest.router(audit),
        grpc_services=[grpc.grpc_service(audit)],
        handlers=handlers.HANDLERS,
        batch_handler=handlers.on_fetch,
        consumes=handlers.CONSUMES,
        deps=handlers.Deps(audit),
        on_start=repository.ensure_indexes,
    )
