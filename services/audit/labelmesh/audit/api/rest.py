"""REST adapter of the audit service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from labelmesh.audit.usecases import Audit


def router(audit: Audit) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["audit"])

    @api.get("/items/{item_id}/trail")
    async def item_trail(item_id: str) -> dict[str, Any]:
        entries = await audit.item_trail(item_id)
        return {
            "item_id": item_id,
            "entries": [
                {
                    "sequence": e["sequence"],
                    "event_id": e["_id"],
                    "event_type": e["event_type"],
                    "producer": e["producer"],
                    "actor": e["actor"],
                    "trace_id": e["trace_id"],
                    "occurred_at": e["occurred_at"].isoformat(),
                    "previous_hash": e["previous_hash"],
                    "hash": e["hash"],
                }
                for e in entries
            ],
        }

    @api.get("/items/{item_id}/trail/verify")
    async def verify_trail(item_id: str) -> dict[str, Any]:
        result = await audit.verify_item(item_id)
        return {
            "intact": result.intact,
            "entries_checked": result.checked,
            "first_bad_sequence": result.first_bad_sequence,
        }

    return api
