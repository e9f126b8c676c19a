"""REST adapter of the dataset service: translates HTTP into use-case calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response, StreamingResponse

from labelmesh.core.api import Caller
from labelmesh.core.errors import InvalidField
from labelmesh.core.rest_proto import ProtoJSON, proto_body, proto_io
from labelmesh.dataset import views
from labelmesh.dataset.secured import SecuredDatasets
from labelmesh.dataset.usecases import MAX_PAGE
from labelmesh.v1 import dataset_service_pb2 as pb

PageSize = Annotated[int, Query(ge=0, le=MAX_PAGE)]


def router(datasets: SecuredDatasets) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["dataset"])

    @api.post(
        "/projects/{project_id}/dataset-versions",
        **proto_io(pb.CreateDatasetVersionRequest, pb.CreateDatasetVersionResponse, 201),
    )
    async def create_version(
        project_id: str,
        caller: Caller,
        body: Annotated[
            pb.CreateDatasetVersionRequest, Depends(proto_body(pb.CreateDatasetVersionRequest))
        ],
    ) -> ProtoJSON:
        """Make a version of the project's accepted labels; 200 with the version
        made before when the same labels under the same settings had one."""
        if body.project_id and body.project_id != project_id:
            raise InvalidField("body.project_id", "differs from the project in the path")
        body.project_id = project_id
        version, is_new = await datasets.create_version(caller, body)
        return ProtoJSON(views.created(version, is_new), 201 if is_new else 200)

    @api.get(
        "/projects/{project_id}/dataset-versions",
        **proto_io(response=pb.ListDatasetVersionsResponse),
    )
    async def list_versions(
        project_id: str, caller: Caller, page_size: PageSize = 0, page_token: str = ""
    ) -> ProtoJSON:
        versions, token = await datasets.list_versions(caller, project_id, page_size, page_token)
        return ProtoJSON(views.versions_page(versions, token))

    @api.get("/dataset-versions/{version_id}", **proto_io(response=pb.GetDatasetVersionResponse))
    async def get_version(version_id: str, caller: Caller) -> ProtoJSON:
        stored = await datasets.version(caller, version_id)
        return ProtoJSON(pb.GetDatasetVersionResponse(version=stored.version))

    @api.get(
        "/dataset-versions/{version_id}/balance.png",
        response_class=Response,
        responses={
            200: {"description": "Labels per class and split", "content": {"image/png": {}}}
        },
    )
    async def balance_chart(version_id: str, caller: Caller) -> Response:
        return Response(await datasets.balance_chart(caller, version_id), media_type="image/png")

    @api.get(
        "/dataset-versions/{version_id}/export.jsonl",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "Every item of the version, one proto-JSON object per line",
                "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            }
        },
    )
    async def export_jsonl(version_id: str, caller: Caller) -> StreamingResponse:
        """Stream the version as JSONL, a stored chunk at a time: memory stays
        flat whatever its size."""
        stored, chunks = await datasets.stream(caller, version_id)

        async def lines() -> AsyncIterator[str]:
            async for chunk in chunks:
                # Converting a chunk to JSON is CPU work: off the event loop.
                yield await asyncio.to_thread(views.jsonl, chunk)

        name = stored.version.name or "dataset"
        filename = f"{name}-{stored.version.version_id[:12]}.jsonl"
        return StreamingResponse(
            lines(),
            media_type="application/x-ndjson",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @api.get(
        "/dataset-versions/{version_id}/items",
        **proto_io(response=pb.ListDatasetVersionItemsResponse),
    )
    async def list_items(
        version_id: str, caller: Caller, page_size: PageSize = 0, page_token: str = ""
    ) -> ProtoJSON:
        items, token = await datasets.items_page(caller, version_id, page_size, page_token)
        return ProtoJSON(views.items_page(items, token))

    @api.get(
        "/dataset-versions/{version_id}/diff/{other_id}",
        **proto_io(response=pb.DatasetDiffPage),
    )
    async def diff(
        version_id: str,
        other_id: str,
        caller: Caller,
        page_size: PageSize = 0,
        page_token: str = "",
    ) -> ProtoJSON:
        """What changed from this version to the other, a page of changes at a
        time, with the counts of the whole diff."""
        summary = pb.DiffSummary()
        changes = await datasets.diff(caller, version_id, other_id, summary)
        return ProtoJSON(await views.diff_page(changes, summary, page_size or 100, page_token))

    return api
