"""Labels made in another tool come in with their items through the running
services: an imported annotation fills its item's annotator slot and is
reviewed like any other until the item completes; an imported prediction is
the item's prediction and its task's suggestion, which an annotator accepts."""

from __future__ import annotations

from typing import Any

import pytest

from labelmesh.testing.services import wait_for

from .rest_api import RestApi

pytestmark = pytest.mark.e2e

POLITICS = {"classification": {"label": "politics"}}
MADE_AT = "2025-05-01T09:30:00Z"


def imported_item(text: str, *, annotated: bool) -> dict[str, Any]:
    """A Label Studio task's text, its prediction and, if `annotated`, sam's annotation."""
    item: dict[str, Any] = {
        "text": text,
        "source": "label-studio",
        "source_uri": "https://ls.example/tasks/17",
        "predictions": [
            {
                "labels": [{**POLITICS, "confidence": 0.8}],
                "score": 0.8,
                "model_version": "bert-news-3",
                "origin_id": "ls-pred-1",
            }
        ],
    }
    if annotated:
        item["annotations"] = [
            {"labels": [POLITICS], "annotator": "sam", "created_at": MADE_AT, "origin_id": "ls-1"}
        ]
    return item


def test_imported_labels_are_reviewed_and_suggested(api: RestApi) -> None:
    client, stack = api.client, api.stack
    annotation, review, inference = stack["annotation"], stack["review"], stack["inference"]
    project_id = api.new_text_project(
        name="from label studio",
        classes=["sports", "politics"],
        auto_accept_threshold=0.5,  # imported scores are never auto-accepted, 0.8 or not
        review_policy={
            "stages": [{"name": "peer", "role": "reviewer", "coverage": "REVIEW_COVERAGE_ALL"}]
        },
    )["project_id"]
    reviewer = {"project_id": project_id, "subject": "rita", "roles": ["ROLE_REVIEWER"]}
    assert client.put(f"{stack['access'].rest}/v1/memberships", json=reviewer).is_success
    policy_url = f"{review.rest}/v1/projects/{project_id}/review-policy"

    def rita_is_a_member() -> bool:
        response = client.get(policy_url)
        members = response.json()["policy"].get("members", []) if response.is_success else []
        return any(m["user"] == "rita" for m in members)

    wait_for(rita_is_a_member, "rita among the review policy's members")
    importer = client.get(f"{stack['access'].rest}/v1/whoami").json()["principal"]["subject"]

    upload = f"{stack['ingest'].rest}/v1/projects/{project_id}/items"
    body = {
        "items": [
            imported_item("Parliament passed the budget", annotated=True),
            imported_item("The senate debated taxes", annotated=False),
        ]
    }

    def uploaded() -> list[str] | None:
        response = client.post(upload, json=body)
        if response.status_code == 404:  # ingest has not heard of the project yet
            return None
        assert response.status_code == 200, response.text
        return [result["item_id"] for result in response.json()["results"]]

    annotated_id, predicted_id = wait_for(uploaded, "ingest to know the project")

    # The imported annotation is the item's annotation, with its origin.
    def annotations() -> list[dict[str, Any]] | None:
        response = client.get(f"{annotation.rest}/v1/items/{annotated_id}/annotations")
        found: list[dict[str, Any]] = response.json()["annotations"] if response.is_success else []
        return found or None

    [imported] = wait_for(annotations, "the imported annotation")
    assert imported["source"] == "ANNOTATION_SOURCE_IMPORTED"
    assert (imported["annotator"], imported["origin"], imported["origin_annotator"]) == (
        importer,
        "label-studio",
        "sam",
    )
    assert (imported["origin_created_at"], imported["origin_id"]) == (MADE_AT, "ls-1")
    assert [label["classification"] for label in imported["labels"]] == [POLITICS["classification"]]

    # The imported prediction is the item's prediction, and its task's suggestion.
    prediction_url = f"{inference.rest}/v1/items/{annotated_id}/prediction"
    made = wait_for(
        lambda: r.json()["prediction"] if (r := client.get(prediction_url)).is_success else None,
        "the imported item's prediction",
    )
    assert (made["model"], made["origin"]) == (
        {"id": "label-studio", "version": "bert-news-3"},
        "label-studio",
    )
    assert made.get("auto_accepted", False) is False
    assert made["labels"][0]["source"]["score"] == 0.8
    task_url = f"{annotation.rest}/v1/tasks/{imported['task_id']}"
    task = wait_for(
        lambda: t if (t := client.get(task_url).json())["suggestion"] else None,
        "the prediction on the imported item's task",
    )
    assert task["task_status"] == "TASK_STATUS_SUBMITTED"
    assert task["suggestion"][0]["source"]["model_id"] == "label-studio"

    # rita reviews sam's annotation like any other, and the item completes.
    next_review = f"{review.rest}/v1/projects/{project_id}/review-tasks/next"
    review_task = wait_for(
        lambda: (
            r.json()["task"]
            if (r := client.post(next_review, json={"reviewer": "rita"})).status_code == 200
            else None
        ),
        "a review task for rita",
    )
    assert review_task["item_id"] == annotated_id
    decided = client.post(
        f"{review.rest}/v1/review-tasks/{review_task['review_task_id']}/decision",
        json={"reviewer": "rita", "decision": "APPROVED", "reason": "it is politics"},
    )
    assert decided.status_code == 200, decided.text
    reviews_url = f"{review.rest}/v1/items/{annotated_id}/reviews"
    final = wait_for(
        lambda: r if (r := client.get(reviews_url).json())["state"] == "completed" else None,
        "the imported item to complete",
    )
    assert final["final_labels"][0]["classification"]["label"] == "politics"
    wait_for(
        lambda: client.get(task_url).json()["task_status"] == "TASK_STATUS_COMPLETED",
        "the imported item's task to complete",
    )

    # The item without an annotation waits for a person, the import's suggestion on it.
    offered = wait_for(
        lambda: api.next_task(project_id, "ana"), "a task for ana with the imported suggestion"
    )
    assert offered["item_id"] == predicted_id
    [suggestion] = offered["suggestion"]
    assert (suggestion["source"]["model_id"], suggestion["source"]["model_version"]) == (
        "label-studio",
        "bert-news-3",
    )
    accepted = client.post(
        f"{annotation.rest}/v1/tasks/{offered['task_id']}/suggestions/accept",
        json={"annotator": "ana"},
    )
    assert accepted.status_code == 201, accepted.text
    assert api.next_task(project_id, "ana") is None
