"""REST adapter of the review service."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from labelmesh.core.api import UserHeader
from labelmesh.core.labels import (
    labels_from_json,
    labels_to_json,
    message_from_json,
    message_to_json,
)
from labelmesh.review.adapters.repository import Window
from labelmesh.review.facade import ReviewApi
from labelmesh.review.review_tasks import ReviewTaskView
from labelmesh.v1.events_pb2 import ReviewPolicy

MAX_ID = 200


class GoldItem(BaseModel):
    item_id: str = Field(max_length=MAX_ID)
    labels: list[dict[str, Any]]


class GoldRequest(BaseModel):
    items: list[GoldItem]


class NextReviewRequest(BaseModel):
    reviewer: str = Field(min_length=1, max_length=MAX_ID)


class DecisionRequest(BaseModel):
    reviewer: str = Field(min_length=1, max_length=MAX_ID)
    decision: Literal["APPROVED", "REJECTED"]
    reason: str = ""
    labels: list[dict[str, Any]] = []


class FlagRequest(BaseModel):
    reason: str
    annotation_id: str = ""


def review_task_json(task: ReviewTaskView) -> dict[str, Any]:
    return {
        "review_task_id": task.review_task_id,
        "project_id": task.project_id,
        "item_id": task.item_id,
        "kind": task.kind,
        "stage": task.stage,
        "labels": labels_to_json(task.labels),
        "candidates": [message_to_json(c) for c in task.candidates],
        "agreement": task.agreement,
        "reason": task.reason,
        "status": task.status,
        "assignee": task.assignee,
    }


def router(app: ReviewApi) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["review"])

    @api.get("/items/{item_id}/reviews")
    async def item_reviews(item_id: str) -> dict[str, Any]:
        """Every decision on an item, and where the item stands."""
        status = await app.item_status(item_id)
        return {
            "completed": status.completed,
            "state": status.state,
            "final_labels": labels_to_json(status.final_labels),
            "reviews": [message_to_json(r) for r in status.reviews],
        }

    @api.get("/projects/{project_id}/review-policy")
    async def get_policy(project_id: str) -> dict[str, Any]:
        return message_to_json(await app.review.policy(project_id))

    @api.put("/projects/{project_id}/review-policy")
    async def configure_policy(
        project_id: str, body: dict[str, Any], user: UserHeader = "api"
    ) -> dict[str, Any]:
        """Replace the policy; its version goes up by one."""
        policy = message_from_json(body, ReviewPolicy(), "policy")
        return message_to_json(await app.quality.configure_policy(project_id, policy, user))

    @api.post("/projects/{project_id}/gold")
    async def set_gold(
        project_id: str, request: GoldRequest, user: UserHeader = "api"
    ) -> dict[str, Any]:
        """Known answers for items; each item succeeds or fails on its own."""
        items = [
            (item.item_id, labels_from_json(item.labels, f"items[{index}].labels"))
            for index, item in enumerate(request.items)
        ]
        results = await app.quality.set_gold(project_id, items, user)
        return {
            "results": [
                {"item_id": r.item_id, "ok": r.ok, "field": r.field, "reason": r.reason}
                for r in results
            ]
        }

    @api.post("/projects/{project_id}/review-tasks/next", response_model=None)
    async def next_review_task(
        project_id: str, request: NextReviewRequest
    ) -> dict[str, Any] | Response:
        """Assign the next review or adjudication task; 204 when none waits."""
        task = await app.tasks.next_task(project_id, request.reviewer)
        return review_task_json(task) if task else Response(status_code=204)

    @api.get("/review-tasks/{task_id}")
    async def get_review_task(task_id: str) -> dict[str, Any]:
        return review_task_json(await app.tasks.get_task(task_id))

    @api.post("/review-tasks/{task_id}/decision")
    async def decide(task_id: str, request: DecisionRequest) -> dict[str, str]:
        outcome = await app.tasks.decide(
            task_id,
            request.reviewer,
            request.decision == "APPROVED",
            request.reason,
            labels_from_json(request.labels),
        )
        return {"outcome": outcome}

    @api.post("/items/{item_id}/flag")
    async def flag_item(
        item_id: str, request: FlagRequest, user: UserHeader = "api"
    ) -> dict[str, str]:
        """Send an item back through review."""
        state = await app.tasks.flag_item(item_id, request.reason, request.annotation_id, user)
        return {"outcome": state}

    since_query = Query(default=None, description="Start of the window (ISO 8601), inclusive")
    until_query = Query(default=None, description="End of the window (ISO 8601), exclusive")

    @api.get("/projects/{project_id}/reports/annotations")
    async def annotation_scores(
        project_id: str,
        since: datetime | None = since_query,
        until: datetime | None = until_query,
        annotator: str = "",
    ) -> dict[str, Any]:
        scores = await app.quality.annotation_scores(Window(project_id, since, until, annotator))
        return {"scores": [message_to_json(s) for s in scores]}

    @api.get("/projects/{project_id}/reports/annotators")
    async def annotator_report(
        project_id: str,
        since: datetime | None = since_query,
        until: datetime | None = until_query,
        annotator: str = "",
    ) -> dict[str, Any]:
        stats = await app.quality.annotator_report(Window(project_id, since, until, annotator))
        return {"annotators": [message_to_json(s) for s in stats]}

    @api.get("/projects/{project_id}/reports/reviewers")
    async def reviewer_report(
        project_id: str,
        since: datetime | None = since_query,
        until: datetime | None = until_query,
        reviewer: str = "",
    ) -> dict[str, Any]:
        stats = await app.quality.reviewer_report(Window(project_id, since, until, reviewer))
        return {"reviewers": [message_to_json(s) for s in stats]}

    @api.get("/projects/{project_id}/reports/agreement")
    async def agreement_report(
        project_id: str,
        since: datetime | None = since_query,
        until: datetime | None = until_query,
    ) -> dict[str, Any]:
        return message_to_json(await app.quality.agreement_report(Window(project_id, since, until)))

    return api
