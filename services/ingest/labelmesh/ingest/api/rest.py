"""REST adapter of the ingest service: translates HTTP into use-case calls."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from labelmesh.core.api import UserHeader
from labelmesh.core.envelopes import user_actor
from labelmesh.ingest.domain import Upload
from labelmesh.ingest.usecases import Ingest, UploadOutcome
from labelmesh.v1.events_pb2 import DataType


class TextItem(BaseModel):
    text: str
    metadata: dict[str, str] = Field(default_factory=dict)


class TextBatch(BaseModel):
    items: list[TextItem]


def outcome_json(outcome: UploadOutcome) -> dict[str, Any]:
    error = outcome.error
    return {
        "index": outcome.index,
        "item_id": outcome.item_id or None,
        "duplicate": outcome.duplicate,
        "error": {"field": error.field, "reason": error.reason} if error else None,
    }


def router(ingest: Ingest) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["ingest"])

    @api.post("/projects/{project_id}/items")
    async def upload_texts(
        project_id: str, batch: TextBatch, user: UserHeader = "api"
    ) -> dict[str, Any]:
        """Upload text items as JSON."""
        uploads = [Upload(text=i.text, metadata=i.metadata) for i in batch.items]
        outcomes = await ingest.upload(project_id, uploads, user_actor(user))
        return {"results": [outcome_json(o) for o in outcomes]}

    @api.post("/projects/{project_id}/files")
    async def upload_files(
        project_id: str, files: Annotated[list[UploadFile], File()], user: UserHeader = "api"
    ) -> dict[str, Any]:
        """Upload files as multipart form data, one part per file."""
        uploads = [
            Upload(
                filename=f.filename or "",
                content_type=(f.content_type or "").replace("application/octet-stream", ""),
                content=await f.read(),
            )
            for f in files
        ]
        outcomes = await ingest.upload(project_id, uploads, user_actor(user))
        return {"results": [outcome_json(o) for o in outcomes]}

    @api.get("/items/{item_id}")
    async def get_item(item_id: str) -> dict[str, Any]:
        item = await ingest.get_item(item_id)
        return {
            "item_id": item["_id"],
            "project_id": item["project_id"],
            "data_type": DataType.Name(item["data_type"]),
            "content_type": item["content_type"],
            "sha256": item["sha256"],
            "size_bytes": item["size_bytes"],
            "media_key": item["media_key"],
            "filename": item["filename"],
            "metadata": item["metadata"],
            "created_at": item["created_at"].isoformat(),
        }

    @api.get("/items/{item_id}/media")
    async def get_media(item_id: str) -> Response:
        content, content_type = await ingest.media(item_id)
        return Response(content, media_type=content_type)

    return api
