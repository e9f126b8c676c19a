"""REST adapter of the ingest service: translates HTTP into use-case calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from labelmesh.core.api import Caller
from labelmesh.core.errors import InvalidField
from labelmesh.core.labels import message_from_json
from labelmesh.core.rest_proto import ProtoJSON, proto_body, proto_io
from labelmesh.ingest import views
from labelmesh.ingest.buckets.notifications import ObjectEvent
from labelmesh.ingest.buckets.s3_events import events_of_notification
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
        item = await ingest.item(caller, item_id)
        return ProtoJSON(views.item(item, await ingest.media_link(item)))

    @api.get(
        "/items/{item_id}/media",
        response_class=Response,
        responses={
            200: {"description": "The item's media bytes", "content": {"*/*": {}}},
            307: {"description": "Media kept in its bucket: a presigned URL that reads it"},
        },
    )
    async def get_media(item_id: str, caller: Caller) -> Response:
        item = await ingest.item(caller, item_id)
        link = await ingest.media_link(item)
        if link is not None:
            return RedirectResponse(link[0], status_code=307)
        content, content_type = await ingest.media_of(item)
        return Response(content, media_type=content_type)

    @api.post(
        "/projects/{project_id}/buckets",
        **proto_io(pb.RegisterBucketRequest, pb.RegisterBucketResponse, 201),
    )
    async def register_bucket(
        project_id: str,
        caller: Caller,
        body: Annotated[pb.RegisterBucketRequest, Depends(proto_body(pb.RegisterBucketRequest))],
    ) -> ProtoJSON:
        """Register a bucket and prefix as the project's source; 200 when it was
        registered before, its settings now these."""
        if body.project_id and body.project_id != project_id:
            raise InvalidField("body.project_id", "differs from the project in the path")
        body.project_id = project_id
        bucket, created = await ingest.register_bucket(caller, body)
        return ProtoJSON(pb.RegisterBucketResponse(bucket=bucket), 201 if created else 200)

    @api.get("/projects/{project_id}/buckets", **proto_io(response=pb.ListBucketsResponse))
    async def list_buckets(project_id: str, caller: Caller) -> ProtoJSON:
        buckets = await ingest.project_buckets(caller, project_id)
        return ProtoJSON(pb.ListBucketsResponse(buckets=buckets))

    @api.get("/buckets/{bucket_id}", **proto_io(response=pb.GetBucketResponse))
    async def get_bucket(bucket_id: str, caller: Caller) -> ProtoJSON:
        return ProtoJSON(pb.GetBucketResponse(bucket=await ingest.bucket(caller, bucket_id)))

    @api.post(
        "/buckets/{bucket_id}/syncs",
        **proto_io(pb.SyncBucketRequest, pb.SyncBucketResponse, 202),
    )
    async def sync_bucket(
        bucket_id: str,
        caller: Caller,
        body: Annotated[pb.SyncBucketRequest, Depends(proto_body(pb.SyncBucketRequest))],
    ) -> ProtoJSON:
        """Queue a sync; 200 with the sync already queued or running."""
        bucket, queued = await ingest.sync_bucket(caller, bucket_id, body.full)
        return ProtoJSON(pb.SyncBucketResponse(bucket=bucket), 202 if queued else 200)

    @api.post(
        "/buckets/{bucket_id}/events",
        **proto_io(pb.NotifyBucketEventsRequest, pb.NotifyBucketEventsResponse),
    )
    async def notify_bucket(bucket_id: str, request: Request, caller: Caller) -> ProtoJSON:
        """Take in the objects events name: an S3 event notification as MinIO's
        webhook sends it (its auth_token "Bearer <API key>"), or the proto-JSON
        of NotifyBucketEventsRequest."""
        body = await _json_object(request)
        if "Records" in body:
            bucket = await ingest.bucket(caller, bucket_id)
            events = events_of_notification(body, bucket.bucket)
        else:
            parsed = message_from_json(body, pb.NotifyBucketEventsRequest(), "body")
            events = [ObjectEvent(e.kind, e.key) for e in parsed.events]
        outcomes = await ingest.notify_bucket(caller, bucket_id, events)
        return ProtoJSON(views.event_results(outcomes))

    return api


async def _json_object(request: Request) -> dict[str, object]:
    try:
        body = await request.json()
    except ValueError:
        raise InvalidField("body", "must be a JSON object") from None
    if not isinstance(body, dict):
        raise InvalidField("body", "must be a JSON object")
    return body
