"""REST adapter of the audit service: the proto-JSON of the gRPC responses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from labelmesh.audit.records import AuditQuery
from labelmesh.audit.secured import SecuredAudit
from labelmesh.audit.usecases import MAX_PAGE, page_size, require_scope
from labelmesh.audit.views import (
    csv_header,
    csv_rows,
    entry_json_line,
    history_response,
    page_response,
    project_verification_response,
    query_of,
    trail_response,
    verification_response,
)
from labelmesh.core.api import Caller
from labelmesh.core.errors import InvalidField
from labelmesh.core.rest_proto import ProtoJSON, proto_io
from labelmesh.v1 import audit_service_pb2 as pb

# The query parameters' names for the filter's fields.
PARAMETERS = {"event_types": "event_type", "occurred_from": "from", "occurred_to": "to"}
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv"}


def _moment(name: str, text: str | None) -> datetime | None:
    if text is None or text == "":
        return None
    try:
        moment = datetime.fromisoformat(text)
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except ValueError:
        raise InvalidField(name, f"must be an ISO 8601 time, not {text!r}") from None
    except OverflowError:
        raise InvalidField(
            name, f"must fall within the years 1 to 9999 in UTC, not {text!r}"
        ) from None


class Filters:
    """The filter query parameters shared by the query and export routes."""

    def __init__(
        self,
        project_id: str = "",
        actor: str = "",
        event_type: Annotated[list[str] | None, Query()] = None,
        item_id: str = "",
        from_: Annotated[str | None, Query(alias="from")] = None,
        to: str | None = None,
    ) -> None:
        self.filter = pb.AuditFilter(
            project_id=project_id, actor=actor, event_types=event_type or [], item_id=item_id
        )
        start, stop = _moment("from", from_), _moment("to", to)
        if start is not None:
            self.filter.occurred_from.FromDatetime(start)
        if stop is not None:
            self.filter.occurred_to.FromDatetime(stop)

    def query(self) -> AuditQuery:
        try:
            query = query_of(self.filter)
            require_scope(query)
        except InvalidField as exc:
            raise InvalidField(PARAMETERS.get(exc.field, exc.field), exc.reason) from None
        return query


def router(audit: SecuredAudit) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["audit"])

    @api.get("/items/{item_id}/trail", **proto_io(response=pb.GetItemTrailResponse))
    async def item_trail(item_id: str, caller: Caller) -> ProtoJSON:
        return ProtoJSON(trail_response(item_id, await audit.item_trail(caller, item_id)))

    @api.get("/items/{item_id}/trail/verify", **proto_io(response=pb.VerifyItemTrailResponse))
    async def verify_trail(item_id: str, caller: Caller) -> ProtoJSON:
        return ProtoJSON(verification_response(await audit.verify_item(caller, item_id)))

    @api.get("/audit/entries", **proto_io(response=pb.QueryAuditLogResponse))
    async def query_entries(
        filters: Annotated[Filters, Depends()],
        caller: Caller,
        page_size_: Annotated[int, Query(alias="page_size")] = 0,
        page_token: str = "",
    ) -> ProtoJSON:
        query = filters.query()
        with audit.metrics.query_seconds.time():
            page = await audit.page(caller, query, page_size(page_size_), page_token)
        return ProtoJSON(page_response(page.entries, page.next_token))

    @api.get(
        "/audit/export",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "Every matching entry: JSONL, a line each, or CSV with a header",
                "content": {
                    media_type: {"schema": {"type": "string"}}
                    for media_type in MEDIA_TYPES.values()
                },
            }
        },
    )
    async def export_entries(
        filters: Annotated[Filters, Depends()],
        caller: Caller,
        format: Literal["jsonl", "csv"] = "jsonl",
    ) -> StreamingResponse:
        query = filters.query()
        batches = await audit.export(caller, query, MAX_PAGE, format)

        async def lines() -> AsyncIterator[str]:
            if format == "csv":
                yield csv_header()
            async for entries in batches:
                audit.metrics.exported.labels(format).inc(len(entries))
                if format == "csv":
                    yield csv_rows(entries)
                else:
                    yield "".join(entry_json_line(e) for e in entries)

        filename = f"audit-{query.project_id or query.item_id}.{format}"
        return StreamingResponse(
            lines(),
            media_type=MEDIA_TYPES[format],
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @api.get(
        "/items/{item_id}/annotations/history",
        **proto_io(response=pb.GetAnnotationHistoryResponse),
    )
    async def annotation_history(item_id: str, caller: Caller) -> ProtoJSON:
        histories = await audit.annotation_history(caller, item_id)
        return ProtoJSON(history_response(item_id, histories))

    @api.get("/projects/{project_id}/audit/verify", **proto_io(response=pb.VerifyProjectResponse))
    async def verify_project(project_id: str, caller: Caller) -> ProtoJSON:
        verification = await audit.verify_project(caller, project_id)
        return ProtoJSON(project_verification_response(verification))

    return api
