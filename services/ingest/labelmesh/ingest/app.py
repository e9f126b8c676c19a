"""Wiring of the ingest service: adapters into use cases, the event table and the APIs."""

from __future__ import annotations

from dataclasses import dataclass

from labelmesh.core.access import ProjectGate, directory_organizations
from labelmesh.core.dispatch import Dispatcher
from labelmesh.core.platform import Platform
from labelmesh.core.projects import MongoProjectDirectory
from labelmesh.core.runner import ServiceDefinition
from labelmesh.core.storage import object_store_from_settings
from labelmesh.ingest import handlers
from labelmesh.ingest.adapters.bucket_objects import MongoObjectRecords
from labelmesh.ingest.adapters.buckets import MongoBucketRepository
from labelmesh.ingest.adapters.fetcher import HttpFetcher
from labelmesh.ingest.adapters.repository import MongoItemRepository
from labelmesh.ingest.adapters.s3_buckets import MinioBucketReaders
from labelmesh.ingest.addresses import AddressPolicy
from labelmesh.ingest.api import grpc, rest
from labelmesh.ingest.buckets.endpoints import EndpointCheck
from labelmesh.ingest.buckets.notifications import BucketNotifications
from labelmesh.ingest.buckets.registry import Buckets
from labelmesh.ingest.buckets.sync import BucketSync, ObjectIntake
from labelmesh.ingest.buckets.worker import SyncWorker
from labelmesh.ingest.config import IngestSettings
from labelmesh.ingest.handlers import IngestFetch
from labelmesh.ingest.manifest_import import ManifestImport
from labelmesh.ingest.metrics import IngestMetrics
from labelmesh.ingest.secured import SecuredIngest
from labelmesh.ingest.url_import import UrlImport
from labelmesh.ingest.usecases import SERVICE, Ingest


@dataclass(frozen=True)
class IngestApp:
    ingest: Ingest
    urls: UrlImport
    items: MongoItemRepository
    projects: MongoProjectDirectory
    buckets: Buckets
    sync_worker: SyncWorker
    events: Dispatcher[IngestFetch]
    service: ServiceDefinition


def build_app(settings: IngestSettings) -> IngestApp:
    platform = Platform(SERVICE, settings)
    items = MongoItemRepository(platform.db)
    projects = MongoProjectDirectory(platform.db)
    store = object_store_from_settings(settings)
    metrics = IngestMetrics(platform.registry)
    ingest = Ingest(items, projects, store, platform.uow, metrics, settings.max_item_bytes)
    policy = AddressPolicy(settings.url_allowed_networks)
    fetcher = HttpFetcher(
        policy,
        max_bytes=settings.max_item_bytes,
        connect_timeout=settings.url_connect_timeout_seconds,
        total_timeout=settings.url_timeout_seconds,
    )
    urls = UrlImport(
        ingest,
        fetcher,
        metrics,
        concurrency=settings.url_fetch_concurrency,
        max_batch_bytes=settings.url_batch_bytes,
        deadline_seconds=settings.request_deadline_seconds,
    )
    events = Dispatcher(handlers.TABLE, platform.uow, SERVICE, handlers.fetch_starter(projects))

    bucket_repository = MongoBucketRepository(platform.db)
    objects = MongoObjectRecords(platform.db)
    readers = MinioBucketReaders()
    endpoints = EndpointCheck(policy)
    intake = ObjectIntake(ingest, objects, readers, settings.url_batch_bytes)
    sync_worker = SyncWorker(bucket_repository, BucketSync(intake, endpoints.check), metrics)
    buckets = Buckets(
        bucket_repository,
        projects,
        readers,
        BucketNotifications(intake),
        endpoints.check,
        settings.bucket_sync_max_waiting,
        wake=sync_worker.wake,
    )

    async def on_start() -> None:
        await items.ensure_indexes()
        await bucket_repository.ensure_indexes()
        await objects.ensure_indexes()
        await store.ensure_ready()

    manifests = ManifestImport(ingest, urls, store)
    gate = ProjectGate(directory_organizations(projects.get))
    secured = SecuredIngest(ingest, gate, urls, manifests, buckets)
    service = ServiceDefinition(
        platform=platform,
        router=rest.router(secured),
        grpc_services=[grpc.grpc_service(secured, platform.authenticator, settings.max_item_bytes)],
        events=events,
        on_start=on_start,
        background=[sync_worker.run],
        # One file at the largest accepted size, with room for a batch's other parts.
        max_request_bytes=settings.max_item_bytes + settings.max_request_bytes,
    )
    return IngestApp(ingest, urls, items, projects, buckets, sync_worker, events, service)


def build(settings: IngestSettings) -> ServiceDefinition:
    return build_app(settings).service
