"""REST adapter of the review service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from labelmesh.core.labels import message_to_json
from labelmesh.review.usecases import Review


def router(review: Review) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["review"])

    @api.get("/items/{item_id}/reviews")
    async def item_reviews(item_id: str) -> dict[str, Any]:
        reviews, completed = await review.item_reviews(item_id)
        return {
            "completed": completed,
            "reviews": [message_to_json(r) for r in reviews],
        }

    return api
