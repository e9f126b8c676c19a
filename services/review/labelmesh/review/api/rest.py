"""REST adapter of the review service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from google.protobuf import json_format

from labelmesh.review.usecases import Review


def router(review: Review) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["review"])

    @api.get("/items/{item_id}/reviews")
    async def item_reviews(item_id: str) -> dict[str, Any]:
        reviews, completed = await review.item_reviews(item_id)
        return {
            "completed": completed,
            "reviews": [
                json_format.MessageToDict(
                    r, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
                )
                for r in reviews
            ],
        }

    return api
