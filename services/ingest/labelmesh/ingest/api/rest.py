"""REST adapter of the ingest service: translates HTTP into use-case calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from labelmesh.core.api import Caller
from labelmesh.core.rest_proto import ProtoJSON, proto_io
from labelmesh.ingest import views
from labelmesh.ingest.domain import Upload
from labelmesh.ingest.form_items import file_items
from labelmesh.ingest.manifest import format_of, mapping_of_json
from labelmesh.ingest.secured import SecuredIngest
from labelmesh.ingest.url_import import UrlItem
from labelmesh.v1 import ingest_service_pb2 as pb


class TextItem(BaseModel):
    text: str
    metadata: dict[str, str] = Field(default_factory=dict)
    # Proto-JSON of ImportedAnnotation and ImportedPrediction, checked by the use case
    # so that a bad one fails its item alone.
    annotations: list[object] = Field(default_factory=list)
    predictions: list[object] = Field(default_factory=list)
    source: str = ""
    source_uri: str = ""


class TextBatch(BaseModel):
    items: list[TextItem]


class UrlItemBody(BaseModel):
    url: str
    metadata: dict[str, str] = Field(default_factory=dict)
    annotations: list[object] = Field(default_factory=list)
    predictions: list[object] = Field(default_factory=list)
    source: str = ""


class UrlBatch(BaseModel):
    items: list[UrlItemBody]


def router(ingest: SecuredIngest) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["ingest"])

    @api.post("/projects/{project_id}/items", **proto_io(response=pb.UploadItemsResponse))
    async def upload_texts(project_id: str, batch: TextBatch, caller: Caller) -> JSONResponse:
        """Upload text items as JSON."""
        uploads = [
            Upload(
                text=i.text,
                metadata=i.metadata,
                annotations=i.annotations,
                predictions=i.predictions,
                source=i.source,
                source_uri=i.source_uri,
            )
            for i in batch.items
        ]
        outcomes = await ingest.upload(caller, project_id, uploads)
        return JSONResponse(views.upload_results_json(outcomes))

    @api.post("/projects/{project_id}/files", **proto_io(response=pb.UploadItemsResponse))
    async def upload_files(
        project_id: str,
        files: Annotated[list[UploadFile], File()],
        caller: Caller,
        items: Annotated[str | None, Form()] = None,
    ) -> JSONResponse:
        """Upload files as multipart form data, one part per file; `items`, a JSON
        array with one object per file, gives each its metadata, annotations,
        predictions, source and source_uri."""
        fields = file_items(items, len(files))
        uploads = [
            Upload(
                filename=f.filename or "",
                content_type=(f.content_type or "").replace("application/octet-stream", ""),
                content=await f.read(),
                metadata=given.metadata,
                annotations=given.annotations,
                predictions=given.predictions,
                source=given.source,
                source_uri=given.source_uri,
            )
            for f, given in zip(files, fields, strict=True)
        ]
        outcomes = await ingest.upload(caller, project_id, uploads)
        return JSONResponse(views.upload_results_json(outcomes))

    @api.post("/projects/{project_id}/imports/urls", **proto_io(response=pb.ImportUrlsResponse))
    async def import_urls(project_id: str, batch: UrlBatch, caller: Caller) -> JSONResponse:
        """Fetch each URL and store it like an uploaded file."""
        items = [
            UrlItem(
                url=i.url,
                metadata=i.metadata,
                annotations=i.annotations,
                predictions=i.predictions,
                source=i.source,
            )
            for i in batch.items
        ]
        outcomes = await ingest.import_urls(caller, project_id, items)
        return JSONResponse(views.upload_results_json(outcomes))

    @api.post(
        "/projects/{project_id}/imports/manifest", **proto_io(response=pb.ImportManifestResponse)
    )
    async def import_manifest(
        project_id: str,
        file: Annotated[UploadFile, File()],
        caller: Caller,
        mapping: Annotated[str, Form()] = "",
        manifest_format: Annotated[str, Form(alias="format")] = "",
    ) -> JSONResponse:
        """Store the items a CSV or JSONL manifest lists; `mapping` (JSON) says
        which column holds what, `format` (csv or jsonl) defaults from the file name."""
        parsed = mapping_of_json(mapping)
        format_ = format_of(manifest_format, file.filename or "")
        outcomes = await ingest.import_manifest(caller, project_id, file.file, format_, parsed)
        return JSONResponse(views.upload_results_json(outcomes))

    @api.get("/items/{item_id}", **proto_io(response=pb.GetItemResponse))
    async def get_item(item_id: str, caller: Caller) -> ProtoJSON:
        return ProtoJSON(views.item(await ingest.item(caller, item_id)))

    @api.get(
        "/items/{item_id}/media",
        response_class=Response,
        responses={200: {"description": "The item's media bytes", "content": {"*/*": {}}}},
    )
    async def get_media(item_id: str, caller: Caller) -> Response:
        content, content_type = await ingest.media(caller, item_id)
        return Response(content, media_type=content_type)

    return api
