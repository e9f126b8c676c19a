"""REST adapter of the review service: the proto-JSON of the gRPC messages."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from labelmesh.core.api import Caller
from labelmesh.core.errors import InvalidField
from labelmesh.core.labels import labels_from_json, message_from_json
from labelmesh.core.rest_proto import ProtoJSON, proto_io
from labelmesh.review import views
from labelmesh.review.records import Window
from labelmesh.review.secured import SecuredReview
from labelmesh.v1 import review_service_pb2 as pb
from labelmesh.v1.events_pb2 import ReviewPolicy

MAX_ID = 200


class GoldItem(BaseModel):
    item_id: str = Field(max_length=MAX_ID)
    labels: list[dict[str, Any]]


class GoldRequest(BaseModel):
    items: list[GoldItem]


# Reviewers work as themselves: `reviewer` may be left out, and naming anyone
# but the caller is refused.
REVIEWER = Field(default="", max_length=MAX_ID, description="The caller, or empty")


class NextReviewRequest(BaseModel):
    reviewer: str = REVIEWER


class DecisionRequest(BaseModel):
    reviewer: str = REVIEWER
    decision: Literal["APPROVED", "REJECTED"]
    reason: str = ""
    labels: list[dict[str, Any]] = []


class FlagRequest(BaseModel):
    reason: str
    annotation_id: str = ""


async def policy_body(request: Request) -> ReviewPolicy:
    """The request body as a ReviewPolicy; a malformed one names the field "policy"."""
    try:
        raw = await request.json()
    except ValueError:
        raise InvalidField("policy", "must be a JSON object") from None
    if not isinstance(raw, dict):
        raise InvalidField("policy", "must be a JSON object")
    return message_from_json(raw, ReviewPolicy(), "policy")


SINCE = Query(default=None, description="Start of the window (ISO 8601), inclusive")
UNTIL = Query(default=None, description="End of the window (ISO 8601), exclusive")


def project_window(
    project_id: str, since: datetime | None = SINCE, until: datetime | None = UNTIL
) -> Window:
    """A report's window from the path and the query."""
    return Window(project_id, since, until)


def annotator_window(
    window: Window = Depends(project_window),  # noqa: B008
    annotator: str = "",
) -> Window:
    """A report's window, narrowed to one annotator by `?annotator=`."""
    return dataclasses.replace(window, user=annotator)


def reviewer_window(
    window: Window = Depends(project_window),  # noqa: B008
    reviewer: str = "",
) -> Window:
    """A report's window, narrowed to one reviewer by `?reviewer=`."""
    return dataclasses.replace(window, user=reviewer)


PROJECT_WINDOW = Depends(project_window)
ANNOTATOR_WINDOW = Depends(annotator_window)
REVIEWER_WINDOW = Depends(reviewer_window)


def router(review: SecuredReview) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["review"])

    @api.get("/items/{item_id}/reviews", **proto_io(response=pb.GetItemReviewsResponse))
    async def item_reviews(item_id: str, caller: Caller) -> ProtoJSON:
        """Every decision on an item, and where the item stands."""
        return ProtoJSON(views.item_reviews(await review.item_status(caller, item_id)))

    @api.get(
        "/projects/{project_id}/review-policy", **proto_io(response=pb.GetReviewPolicyResponse)
    )
    async def get_policy(project_id: str, caller: Caller) -> ProtoJSON:
        return ProtoJSON(views.review_policy(await review.policy(caller, project_id)))

    @api.put(
        "/projects/{project_id}/review-policy",
        **proto_io(request=ReviewPolicy, response=pb.ConfigureReviewPolicyResponse),
    )
    async def configure_policy(
        project_id: str,
        caller: Caller,
        policy: ReviewPolicy = Depends(policy_body),  # noqa: B008
    ) -> ProtoJSON:
        """Replace the policy; its version goes up by one."""
        configured = await review.configure_policy(caller, project_id, policy)
        return ProtoJSON(views.configured_policy(configured))

    @api.post("/projects/{project_id}/gold", **proto_io(response=pb.SetGoldStandardsResponse))
    async def set_gold(project_id: str, request: GoldRequest, caller: Caller) -> ProtoJSON:
        """Known answers for items; each item succeeds or fails on its own."""
        items = [
            (item.item_id, labels_from_json(item.labels, f"items[{index}].labels"))
            for index, item in enumerate(request.items)
        ]
        return ProtoJSON(views.gold_results(await review.set_gold(caller, project_id, items)))

    @api.post(
        "/projects/{project_id}/review-tasks/next",
        response_model=None,
        **proto_io(response=pb.NextReviewTaskResponse),
    )
    async def next_review_task(
        project_id: str, request: NextReviewRequest, caller: Caller
    ) -> Response:
        """Assign the caller's next review or adjudication task; 204 when none waits."""
        task = await review.next_task(caller, project_id, request.reviewer)
        if task is None:
            return Response(status_code=204)
        return ProtoJSON(views.next_review_task(task))

    @api.get("/review-tasks/{task_id}", **proto_io(response=pb.ReviewTask))
    async def get_review_task(task_id: str, caller: Caller) -> ProtoJSON:
        return ProtoJSON(views.review_task(await review.get_task(caller, task_id)))

    @api.post("/review-tasks/{task_id}/decision", **proto_io(response=pb.DecideReviewTaskResponse))
    async def decide(task_id: str, request: DecisionRequest, caller: Caller) -> ProtoJSON:
        outcome = await review.decide(
            caller,
            task_id,
            request.decision == "APPROVED",
            request.reason,
            labels_from_json(request.labels),
            request.reviewer,
        )
        return ProtoJSON(views.decided(outcome))

    @api.post("/items/{item_id}/flag", **proto_io(response=pb.FlagItemResponse))
    async def flag_item(item_id: str, request: FlagRequest, caller: Caller) -> ProtoJSON:
        """Send an item back through review."""
        outcome = await review.flag_item(caller, item_id, request.reason, request.annotation_id)
        return ProtoJSON(views.flagged(outcome))

    @api.get(
        "/projects/{project_id}/reports/annotations",
        **proto_io(response=pb.GetAnnotationScoresResponse),
    )
    async def annotation_scores(caller: Caller, window: Window = ANNOTATOR_WINDOW) -> ProtoJSON:
        return ProtoJSON(views.annotation_scores(await review.annotation_scores(caller, window)))

    @api.get(
        "/projects/{project_id}/reports/annotators",
        **proto_io(response=pb.GetAnnotatorReportResponse),
    )
    async def annotator_report(caller: Caller, window: Window = ANNOTATOR_WINDOW) -> ProtoJSON:
        return ProtoJSON(views.annotator_report(await review.annotator_report(caller, window)))

    @api.get(
        "/projects/{project_id}/reports/reviewers",
        **proto_io(response=pb.GetReviewerReportResponse),
    )
    async def reviewer_report(caller: Caller, window: Window = REVIEWER_WINDOW) -> ProtoJSON:
        return ProtoJSON(views.reviewer_report(await review.reviewer_report(caller, window)))

    @api.get(
        "/projects/{project_id}/reports/agreement",
        **proto_io(response=pb.GetAgreementReportResponse),
    )
    async def agreement_report(caller: Caller, window: Window = PROJECT_WINDOW) -> ProtoJSON:
        return ProtoJSON(await review.agreement_report(caller, window))

    return api
