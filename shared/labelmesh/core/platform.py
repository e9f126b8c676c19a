"""The infrastructure one service process holds: database, publisher, outbox
relay, unit of work and metrics registry, all built from settings."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from labelmesh.core.authentication import Authenticator, RemoteAuthenticator
from labelmesh.core.bus import EventPublisher
from labelmesh.core.config import CoreSettings
from labelmesh.core.denials import DenialRecorder
from labelmesh.core.metrics import BusMetrics
from labelmesh.core.mongo import MongoUnitOfWork, connect
from labelmesh.core.outbox import OutboxRelay
from labelmesh.core.rate_limit import RateLimitedAuthenticator, RateLimiter
from labelmesh.core.topics import Topics


class Platform:
    def __init__(self, service: str, settings: CoreSettings) -> None:
        self.service = service
        self.settings = settings
        self.registry = CollectorRegistry()
        self.metrics = BusMetrics(service, self.registry)
        self.topics = Topics(settings.topic_prefix)
        self.mongo = connect(settings.mongo_uri)
        self.db = self.mongo[f"{settings.mongo_database}_{service}"]
        self.publisher = EventPublisher(settings.kafka_bootstrap_servers, self.topics, self.metrics)
        self.relay = OutboxRelay(
            self.db, self.publisher, self.metrics, settings.outbox_poll_seconds
        )
        self.uow = MongoUnitOfWork(self.mongo, self.db, self.topics, on_commit=self.relay.wake)
        self.denials = DenialRecorder(self.uow, service)
        # The access service, which holds the keys, authenticates locally instead.
        self.authenticator: Authenticator = self.rate_limited(
            RemoteAuthenticator(
                settings.access_grpc_target,
                settings.auth_cache_seconds,
                trusted_ca=settings.tls_ca_file.read_bytes() if settings.tls_ca_file else None,
            )
        )

    def rate_limited(self, authenticator: Authenticator) -> Authenticator:
        """`authenticator`, with each caller held to the configured request rate."""
        limiter = RateLimiter(self.settings.rate_limit_per_second, self.settings.rate_limit_burst)
        return RateLimitedAuthenticator(authenticator, limiter)

    async def close(self) -> None:
        await self.mongo.close()
        await self.authenticator.close()
