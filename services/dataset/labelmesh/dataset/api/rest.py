"""REST adapter of the dataset service: translates HTTP into use-case calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import Response, StreamingResponse

from labelmesh.core.api import Caller
from labelmesh.core.errors import InvalidField
from labelmesh.core.labels import data_type_from_name
from labelmesh.core.rest_proto import ProtoJSON, proto_body, proto_io
from labelmesh.dataset import views
from labelmesh.dataset.api.ranges import byte_range
from labelmesh.dataset.exports.archive import archive_content_type
from labelmesh.dataset.secured import SecuredDatasets
from labelmesh.dataset.usecases import MAX_PAGE
from labelmesh.v1 import dataset_service_pb2 as pb

PageSize = Annotated[int, Query(ge=0, le=MAX_PAGE)]
ARCHIVE_TYPES: dict[str, Any] = {
    "application/zip": {"schema": {"type": "string", "format": "binary"}},
    "application/x-tar": {"schema": {"type": "string", "format": "binary"}},
}


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
        stored, lines = await datasets.stream_jsonl(caller, version_id)
        name = stored.version.name or "dataset"
        filename = f"{name}-{stored.version.version_id[:12]}.jsonl"
        return StreamingResponse(
            lines,
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

    @api.post(
        "/dataset-versions/{version_id}/exports",
        **proto_io(pb.StartExportRequest, pb.StartExportResponse, 202),
    )
    async def start_export(
        version_id: str,
        caller: Caller,
        body: Annotated[pb.StartExportRequest, Depends(proto_body(pb.StartExportRequest))],
    ) -> ProtoJSON:
        """Queue an export of the version; 200 with the job asked for before
        when the same export was (only a failed one is run again)."""
        if body.version_id and body.version_id != version_id:
            raise InvalidField("body.version_id", "differs from the version in the path")
        body.version_id = version_id
        job, is_new = await datasets.start_export(caller, body)
        return ProtoJSON(pb.StartExportResponse(job=job, created=is_new), 202 if is_new else 200)

    @api.get("/exports/{job_id}", **proto_io(response=pb.GetExportResponse))
    async def get_export(job_id: str, caller: Caller) -> ProtoJSON:
        return ProtoJSON(pb.GetExportResponse(job=await datasets.export_job(caller, job_id)))

    @api.get(
        "/exports/{job_id}/download",
        response_class=StreamingResponse,
        responses={
            200: {"description": "The archive", "content": ARCHIVE_TYPES},
            206: {
                "description": "The part of the archive the Range header asked for",
                "content": ARCHIVE_TYPES,
            },
            409: {"description": "The export has not finished"},
            416: {"description": "The range lies outside the archive"},
        },
    )
    async def download_export(
        job_id: str, caller: Caller, range: Annotated[str | None, Header()] = None
    ) -> StreamingResponse:
        """The archive of a finished export, whole or from a byte range, so an
        interrupted download resumes where it stopped."""
        job = await datasets.finished_export(caller, job_id)
        wanted = byte_range(range, job.size_bytes)
        start, end = wanted or (0, job.size_bytes - 1)

        async def body() -> AsyncIterator[bytes]:
            async for _, data in datasets.export_pieces(job, start, end + 1):
                yield data

        headers = {
            "Accept-Ranges": "bytes",
            "Content-Length": str(max(end + 1 - start, 0)),
            "Content-Disposition": f'attachment; filename="{job.filename}"',
            "ETag": f'"{job.sha256}"',
        }
        if wanted:
            headers["Content-Range"] = f"bytes {start}-{end}/{job.size_bytes}"
        return StreamingResponse(
            body(),
            status_code=206 if wanted else 200,
            media_type=archive_content_type(job.archive),
            headers=headers,
        )

    @api.get("/projects/{project_id}/items", **proto_io(response=pb.ListItemsResponse))
    async def list_project_items(
        project_id: str,
        caller: Caller,
        status: str = "",
        class_name: Annotated[str, Query(alias="class")] = "",
        annotator: str = "",
        source: str = "",
        data_type: str = "",
        metadata: Annotated[list[str] | None, Query()] = None,
        q: str = "",
        page_size: int = 0,
        page_token: str = "",
    ) -> ProtoJSON:
        """A page of the project's items, labelled or not, in the order the
        service heard of them; every filter given must match (`metadata` is
        repeatable, each `key:value`; `q`'s words must each be a word of the
        item's file name or text). A page may be short while
        `next_page_token` is set."""
        if page_size < 0:
            raise InvalidField("page_size", "must not be negative")
        request = pb.ListItemsRequest(
            project_id=project_id,
            status=status,
            class_name=class_name,
            annotator=annotator,
            source=source,
            data_type=data_type_from_name(data_type) if data_type else 0,  # type: ignore[arg-type]
            metadata=metadata or [],
            q=q,
            page_size=page_size,
            page_token=page_token,
        )
        items, token = await datasets.list_items(caller, request)
        return ProtoJSON(views.listed_items(items, token))

    return api
