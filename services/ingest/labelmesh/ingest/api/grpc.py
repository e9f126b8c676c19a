"""gRPC adapter of the ingest service: translates messages into use-case calls."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from labelmesh.core.api import grpc_caller, grpc_errors, grpc_status_of
from labelmesh.core.envelopes import user_actor
from labelmesh.core.errors import Conflict, InvalidField, NotFound
from labelmesh.core.runner import GrpcService
from labelmesh.ingest import views
from labelmesh.ingest.domain import Upload
from labelmesh.ingest.usecases import Ingest, UploadOutcome
from labelmesh.v1 import ingest_service_pb2 as pb
from labelmesh.v1 import ingest_service_pb2_grpc as pb_grpc

STREAM_BATCH = 100


def _upload(item: pb.ItemUpload) -> Upload:
    return Upload(
        filename=item.filename,
        content_type=item.content_type,
        content=item.content,
        text=item.text,
        metadata=dict(item.metadata),
    )


class IngestServicer(pb_grpc.IngestServiceServicer):
    def __init__(self, ingest: Ingest) -> None:
        self.ingest = ingest

    @grpc_errors
    async def UploadItems(
        self, request: pb.UploadItemsRequest, context: grpc.aio.ServicerContext
    ) -> pb.UploadItemsResponse:
        outcomes = await self.ingest.upload(
            request.project_id,
            [_upload(i) for i in request.items],
            user_actor(grpc_caller(context)),
        )
        return views.upload_results(outcomes)

    async def UploadItemStream(
        self,
        request_iterator: AsyncIterator[pb.UploadItemStreamRequest],
        context: grpc.aio.ServicerContext,
    ) -> pb.UploadItemStreamResponse:
        # Items are stored in batches as they arrive, so memory stays bounded.
        response = pb.UploadItemStreamResponse()
        batch: list[pb.UploadItemStreamRequest] = []

        async def flush() -> None:
            offset = len(response.results)
            outcomes = await self._upload_batch(batch, offset, context)
            response.results.extend(views.upload_result(o, offset) for o in outcomes)
            batch.clear()

        async for message in request_iterator:
            if batch and message.project_id != batch[0].project_id:
                await flush()
            batch.append(message)
            if len(batch) >= STREAM_BATCH:
                await flush()
        if batch:
            await flush()
        return response

    async def _upload_batch(
        self,
        batch: list[pb.UploadItemStreamRequest],
        first_index: int,
        context: grpc.aio.ServicerContext,
    ) -> list[UploadOutcome]:
        uploads = [_upload(m.item) for m in batch]
        try:
            return await self.ingest.upload(
                batch[0].project_id,
                uploads,
                user_actor(grpc_caller(context)),
                first_index=first_index,
            )
        except (InvalidField, NotFound, Conflict) as exc:
            await context.abort(grpc_status_of(exc), str(exc))
            raise

    @grpc_errors
    async def GetItem(
        self, request: pb.GetItemRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetItemResponse:
        return views.item(await self.ingest.get_item(request.item_id))


def grpc_service(ingest: Ingest) -> GrpcService:
    return GrpcService.of(
        IngestServicer(ingest),
        pb_grpc.add_IngestServiceServicer_to_server,
        pb.DESCRIPTOR,
        "IngestService",
    )
