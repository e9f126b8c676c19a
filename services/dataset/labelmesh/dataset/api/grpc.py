"""gRPC adapter of the dataset service: translates messages into use-case calls."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from labelmesh.core.api import GRPC_MAPPED_ERRORS, grpc_errors, grpc_principal, grpc_status_of
from labelmesh.core.authentication import Authenticator
from labelmesh.core.errors import InvalidField
from labelmesh.core.runner import GrpcService
from labelmesh.dataset import views
from labelmesh.dataset.secured import SecuredDatasets
from labelmesh.v1 import dataset_service_pb2 as pb
from labelmesh.v1 import dataset_service_pb2_grpc as pb_grpc

# Changes per message of DiffDatasetVersions.
DIFF_BATCH = 500


class DatasetServicer(pb_grpc.DatasetServiceServicer):
    def __init__(self, datasets: SecuredDatasets, authenticator: Authenticator) -> None:
        self.datasets = datasets
        self.authenticator = authenticator

    @grpc_errors
    async def CreateDatasetVersion(
        self, request: pb.CreateDatasetVersionRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateDatasetVersionResponse:
        caller = await grpc_principal(self.authenticator, context)
        version, is_new = await self.datasets.create_version(caller, request)
        return views.created(version, is_new)

    @grpc_errors
    async def GetDatasetVersion(
        self, request: pb.GetDatasetVersionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDatasetVersionResponse:
        caller = await grpc_principal(self.authenticator, context)
        stored = await self.datasets.version(caller, request.version_id)
        return pb.GetDatasetVersionResponse(version=stored.version)

    @grpc_errors
    async def ListDatasetVersions(
        self, request: pb.ListDatasetVersionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDatasetVersionsResponse:
        caller = await grpc_principal(self.authenticator, context)
        versions, token = await self.datasets.list_versions(
            caller, request.project_id, request.page_size, request.page_token
        )
        return views.versions_page(versions, token)

    @grpc_errors
    async def GetBalanceChart(
        self, request: pb.GetBalanceChartRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetBalanceChartResponse:
        caller = await grpc_principal(self.authenticator, context)
        return pb.GetBalanceChartResponse(
            png=await self.datasets.balance_chart(caller, request.version_id)
        )

    @grpc_errors
    async def ListDatasetVersionItems(
        self, request: pb.ListDatasetVersionItemsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDatasetVersionItemsResponse:
        caller = await grpc_principal(self.authenticator, context)
        items, token = await self.datasets.items_page(
            caller, request.version_id, request.page_size, request.page_token
        )
        return views.items_page(items, token)

    @grpc_errors
    async def ListItems(
        self, request: pb.ListItemsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListItemsResponse:
        caller = await grpc_principal(self.authenticator, context)
        items, token = await self.datasets.list_items(caller, request)
        return views.listed_items(items, token)

    async def StreamDatasetVersion(
        self, request: pb.StreamDatasetVersionRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamDatasetVersionResponse]:
        # An async generator cannot use grpc_errors: errors are translated here.
        try:
            caller = await grpc_principal(self.authenticator, context)
            _, chunks = await self.datasets.stream(caller, request.version_id)
            async for chunk in chunks:
                yield pb.StreamDatasetVersionResponse(items=chunk)
        except GRPC_MAPPED_ERRORS as exc:
            await context.abort(grpc_status_of(exc), str(exc))

    async def DiffDatasetVersions(
        self, request: pb.DiffDatasetVersionsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.DiffDatasetVersionsResponse]:
        # An async generator cannot use grpc_errors: errors are translated here.
        try:
            caller = await grpc_principal(self.authenticator, context)
            summary = pb.DiffSummary()
            changes = await self.datasets.diff(
                caller, request.from_version_id, request.to_version_id, summary
            )
            batch = pb.DiffDatasetVersionsResponse()
            async for change in changes:
                batch.changes.append(change)
                if len(batch.changes) >= DIFF_BATCH:
                    yield batch
                    batch = pb.DiffDatasetVersionsResponse()
            batch.summary.CopyFrom(summary)
            yield batch
        except GRPC_MAPPED_ERRORS as exc:
            await context.abort(grpc_status_of(exc), str(exc))

    @grpc_errors
    async def StartExport(
        self, request: pb.StartExportRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartExportResponse:
        caller = await grpc_principal(self.authenticator, context)
        job, is_new = await self.datasets.start_export(caller, request)
        return pb.StartExportResponse(job=job, created=is_new)

    @grpc_errors
    async def GetExport(
        self, request: pb.GetExportRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetExportResponse:
        caller = await grpc_principal(self.authenticator, context)
        return pb.GetExportResponse(job=await self.datasets.export_job(caller, request.job_id))

    async def DownloadExport(
        self, request: pb.DownloadExportRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.DownloadExportResponse]:
        # An async generator cannot use grpc_errors: errors are translated here.
        try:
            caller = await grpc_principal(self.authenticator, context)
            job = await self.datasets.finished_export(caller, request.job_id)
            if request.offset > job.size_bytes:
                raise InvalidField(
                    "offset", f"past the end of the archive of {job.size_bytes} bytes"
                )
            pieces = self.datasets.export_pieces(job, request.offset, job.size_bytes)
            async for at, data in pieces:
                yield pb.DownloadExportResponse(offset=at, data=data, size_bytes=job.size_bytes)
        except GRPC_MAPPED_ERRORS as exc:
            await context.abort(grpc_status_of(exc), str(exc))


def grpc_service(datasets: SecuredDatasets, authenticator: Authenticator) -> GrpcService:
    return GrpcService.of(
        DatasetServicer(datasets, authenticator),
        pb_grpc.add_DatasetServiceServicer_to_server,
        pb.DESCRIPTOR,
        "DatasetService",
    )
