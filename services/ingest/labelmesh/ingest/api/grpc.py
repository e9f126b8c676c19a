"""gRPC adapter of the ingest service: translates messages into use-case calls."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator

import grpc

from labelmesh.core.api import grpc_errors, grpc_principal
from labelmesh.core.authentication import Authenticator
from labelmesh.core.errors import InvalidField
from labelmesh.core.runner import GrpcService
from labelmesh.ingest import views
from labelmesh.ingest.buckets.notifications import ObjectEvent
from labelmesh.ingest.domain import Upload
from labelmesh.ingest.manifest import format_of
from labelmesh.ingest.secured import SecuredIngest
from labelmesh.ingest.url_import import UrlItem
from labelmesh.ingest.usecases import MAX_BATCH
from labelmesh.v1 import ingest_service_pb2 as pb
from labelmesh.v1 import ingest_service_pb2_grpc as pb_grpc

STREAM_BATCH = MAX_BATCH
# A streamed manifest stays in memory up to this size, then goes to a temporary file.
MANIFEST_SPOOL_BYTES = 1024 * 1024


def _upload(item: pb.ItemUpload) -> Upload:
    return Upload(
        filename=item.filename,
        content_type=item.content_type,
        content=item.content,
        text=item.text,
        metadata=dict(item.metadata),
        annotations=list(item.annotations),
        predictions=list(item.predictions),
        source=item.source,
        source_uri=item.source_uri,
    )


class IngestServicer(pb_grpc.IngestServiceServicer):
    def __init__(
        self, ingest: SecuredIngest, authenticator: Authenticator, max_manifest_bytes: int
    ) -> None:
        self.ingest = ingest
        self.authenticator = authenticator
        self.max_manifest_bytes = max_manifest_bytes

    @grpc_errors
    async def UploadItems(
        self, request: pb.UploadItemsRequest, context: grpc.aio.ServicerContext
    ) -> pb.UploadItemsResponse:
        caller = await grpc_principal(self.authenticator, context)
        outcomes = await self.ingest.upload(
            caller, request.project_id, [_upload(i) for i in request.items]
        )
        return views.upload_results(outcomes)

    @grpc_errors
    async def UploadItemStream(
        self,
        request_iterator: AsyncIterator[pb.UploadItemStreamRequest],
        context: grpc.aio.ServicerContext,
    ) -> pb.UploadItemStreamResponse:
        # Items are stored in batches as they arrive, so memory stays bounded, and
        # the next batch is read while the one before it is written.
        caller = await grpc_principal(self.authenticator, context)
        response = pb.UploadItemStreamResponse()
        batch: list[pb.UploadItemStreamRequest] = []
        received = 0
        writing: asyncio.Task[None] | None = None

        async def write(messages: list[pb.UploadItemStreamRequest], offset: int) -> None:
            uploads = [_upload(m.item) for m in messages]
            outcomes = await self.ingest.upload(
                caller, messages[0].project_id, uploads, first_index=offset
            )
            response.results.extend(views.upload_result(o, offset) for o in outcomes)

        async def hand_over() -> None:
            # One batch is written at a time, so results come back in stream order
            # and each batch's dedup check sees the batches before it.
            nonlocal batch, writing
            if writing is not None:
                await writing
            writing = asyncio.create_task(write(batch, received - len(batch)))
            batch = []

        try:
            async for message in request_iterator:
                if batch and (
                    message.project_id != batch[0].project_id or len(batch) >= STREAM_BATCH
                ):
                    await hand_over()
                batch.append(message)
                received += 1
            if batch:
                await hand_over()
            if writing is not None:
                await writing
        finally:
            if writing is not None and not writing.done():
                writing.cancel()
        return response

    @grpc_errors
    async def GetItem(
        self, request: pb.GetItemRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetItemResponse:
        caller = await grpc_principal(self.authenticator, context)
        item = await self.ingest.item(caller, request.item_id)
        return views.item(item, await self.ingest.media_link(item))

    @grpc_errors
    async def RegisterBucket(
        self, request: pb.RegisterBucketRequest, context: grpc.aio.ServicerContext
    ) -> pb.RegisterBucketResponse:
        caller = await grpc_principal(self.authenticator, context)
        bucket, _ = await self.ingest.register_bucket(caller, request)
        return pb.RegisterBucketResponse(bucket=bucket)

    @grpc_errors
    async def GetBucket(
        self, request: pb.GetBucketRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetBucketResponse:
        caller = await grpc_principal(self.authenticator, context)
        return pb.GetBucketResponse(bucket=await self.ingest.bucket(caller, request.bucket_id))

    @grpc_errors
    async def ListBuckets(
        self, request: pb.ListBucketsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListBucketsResponse:
        caller = await grpc_principal(self.authenticator, context)
        buckets = await self.ingest.project_buckets(caller, request.project_id)
        return pb.ListBucketsResponse(buckets=buckets)

    @grpc_errors
    async def SyncBucket(
        self, request: pb.SyncBucketRequest, context: grpc.aio.ServicerContext
    ) -> pb.SyncBucketResponse:
        caller = await grpc_principal(self.authenticator, context)
        bucket, _ = await self.ingest.sync_bucket(caller, request.bucket_id, request.full)
        return pb.SyncBucketResponse(bucket=bucket)

    @grpc_errors
    async def NotifyBucketEvents(
        self, request: pb.NotifyBucketEventsRequest, context: grpc.aio.ServicerContext
    ) -> pb.NotifyBucketEventsResponse:
        caller = await grpc_principal(self.authenticator, context)
        events = [ObjectEvent(e.kind, e.key) for e in request.events]
        outcomes = await self.ingest.notify_bucket(caller, request.bucket_id, events)
        return views.event_results(outcomes)

    @grpc_errors
    async def ImportUrls(
        self, request: pb.ImportUrlsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ImportUrlsResponse:
        caller = await grpc_principal(self.authenticator, context)
        items = [_url_item(i) for i in request.items]
        outcomes = await self.ingest.import_urls(caller, request.project_id, items)
        return pb.ImportUrlsResponse(results=[views.upload_result(o) for o in outcomes])

    @grpc_errors
    async def ImportManifest(
        self,
        request_iterator: AsyncIterator[pb.ImportManifestRequest],
        context: grpc.aio.ServicerContext,
    ) -> pb.ImportManifestResponse:
        caller = await grpc_principal(self.authenticator, context)
        first: pb.ImportManifestRequest | None = None
        with tempfile.SpooledTemporaryFile(max_size=MANIFEST_SPOOL_BYTES) as spool:
            size = 0
            async for message in request_iterator:
                if first is None:
                    first = message
                    await self.ingest.check_import(caller, first.project_id)
                size += len(message.content)
                if size > self.max_manifest_bytes:
                    reason = f"a manifest holds at most {self.max_manifest_bytes} bytes"
                    raise InvalidField("content", reason)
                spool.write(message.content)
            if first is None:
                raise InvalidField("content", "no manifest was sent")
            spool.seek(0)
            format_ = first.format or format_of("", first.filename)
            outcomes = await self.ingest.import_manifest(
                caller, first.project_id, spool, format_, first.mapping
            )
        return pb.ImportManifestResponse(results=[views.upload_result(o) for o in outcomes])


def _url_item(item: pb.UrlImportItem) -> UrlItem:
    return UrlItem(
        url=item.url,
        metadata=dict(item.metadata),
        annotations=list(item.annotations),
        predictions=list(item.predictions),
        source=item.source,
    )


def grpc_service(
    ingest: SecuredIngest, authenticator: Authenticator, max_manifest_bytes: int
) -> GrpcService:
    return GrpcService.of(
        IngestServicer(ingest, authenticator, max_manifest_bytes),
        pb_grpc.add_IngestServiceServicer_to_server,
        pb.DESCRIPTOR,
        "IngestService",
    )
