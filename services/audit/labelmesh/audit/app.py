"""Wiring of the audit service."""

from __future__ import annotations

from dataclasses import dataclass

from labelmesh.audit import handlers
from labelmesh.audit.adapters.repository import MongoAuditRepository
from labelmesh.audit.api import grpc, rest
from labelmesh.audit.checkpoints import Checkpointer
from labelmesh.audit.config import AuditSettings
from labelmesh.audit.handlers import AuditFetch
from labelmesh.audit.metrics import AuditMetrics
from labelmesh.audit.secured import SecuredAudit
from labelmesh.audit.usecases import SERVICE, Audit
from labelmesh.core.dispatch import Dispatcher
from labelmesh.core.platform import Platform
from labelmesh.core.runner import ServiceDefinition
from labelmesh.core.side_events import SideEvents


@dataclass(frozen=True)
class AuditApp:
    audit: Audit
    repository: MongoAuditRepository
    events: Dispatcher[AuditFetch]
    service: ServiceDefinition
    checkpointer: Checkpointer


def build_app(settings: AuditSettings) -> AuditApp:
    platform = Platform(SERVICE, settings)
    repository = MongoAuditRepository(platform.db)
    audit = Audit(
        repository, AuditMetrics(platform.registry), checkpoint_entries=settings.checkpoint_entries
    )
    checkpointer = Checkpointer(audit, platform.uow, settings.checkpoint_seconds)
    # An entry's id is its event's id: recording drops replays without claims.
    events = Dispatcher(
        handlers.TABLE,
        platform.uow,
        SERVICE,
        handlers.fetch_starter(audit),
        claims_events=False,
    )
    secured = SecuredAudit(audit, SideEvents(platform.uow))
    service = ServiceDefinition(
        platform=platform,
        router=rest.router(secured),
        grpc_services=[grpc.grpc_service(secured, platform.authenticator)],
        events=events,
        on_start=repository.prepare,
        background=[checkpointer.run],
    )
    return AuditApp(audit, repository, events, service, checkpointer)


def build(settings: AuditSettings) -> ServiceDefinition:
    return build_app(settings).service
