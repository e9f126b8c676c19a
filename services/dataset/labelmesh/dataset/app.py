"""Wiring of the dataset service: adapters into use cases, the event table and the APIs."""

from __future__ import annotations

from dataclasses import dataclass

from labelmesh.core.access import ProjectGate, directory_organizations
from labelmesh.core.dispatch import Dispatcher
from labelmesh.core.platform import Platform
from labelmesh.core.projects import MongoProjectDirectory
from labelmesh.core.runner import ServiceDefinition
from labelmesh.core.storage import object_store_from_settings
from labelmesh.dataset import handlers
from labelmesh.dataset.adapters.export_jobs import MongoExportJobRepository
from labelmesh.dataset.adapters.repository import MongoItemProjection, MongoVersionRepository
from labelmesh.dataset.api import grpc, rest
from labelmesh.dataset.config import DatasetSettings
from labelmesh.dataset.export_jobs import Exports
from labelmesh.dataset.export_worker import ExportWorker
from labelmesh.dataset.handlers import DatasetFetch
from labelmesh.dataset.metrics import DatasetMetrics
from labelmesh.dataset.secured import SecuredDatasets
from labelmesh.dataset.usecases import SERVICE, Datasets


@dataclass(frozen=True)
class DatasetApp:
    datasets: Datasets
    exports: Exports
    events: Dispatcher[DatasetFetch]
    service: ServiceDefinition


def build_app(settings: DatasetSettings) -> DatasetApp:
    platform = Platform(SERVICE, settings)
    items = MongoItemProjection(platform.db)
    versions = MongoVersionRepository(platform.db)
    projects = MongoProjectDirectory(platform.db)
    metrics = DatasetMetrics(platform.registry)
    datasets = Datasets(items, versions, projects, platform.uow, metrics)
    events = Dispatcher(
        handlers.TABLE, platform.uow, SERVICE, handlers.fetch_starter(projects, items, metrics)
    )

    jobs = MongoExportJobRepository(platform.db)
    store = object_store_from_settings(settings)
    exports = Exports(datasets, jobs, store, settings.max_waiting_exports)
    worker = ExportWorker(exports, settings.export_dir)

    async def on_start() -> None:
        await items.ensure_indexes()
        await versions.ensure_indexes()
        await jobs.ensure_indexes()
        await store.ensure_ready()

    gate = ProjectGate(directory_organizations(projects.get))
    secured = SecuredDatasets(datasets, exports, gate)
    service = ServiceDefinition(
        platform=platform,
        router=rest.router(secured),
        grpc_services=[grpc.grpc_service(secured, platform.authenticator)],
        events=events,
        on_start=on_start,
        background=[worker.run],
    )
    return DatasetApp(datasets, exports, events, service)


def build(settings: DatasetSettings) -> ServiceDefinition:
    return build_app(settings).service
