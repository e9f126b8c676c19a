"""One item's whole journey over REST: ingest, inference, annotation, review, audit."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from labelmesh.devstack.services import ServiceAddress
from labelmesh.testing.services import wait_for

from .rest_api import RestApi

pytestmark = pytest.mark.e2e

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
    b"\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
SPORTS = "The home team won the championship final in overtime"
VAGUE = "Markets were mixed today, some said"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def get_json(client: httpx.Client, url: str) -> Any:
    response = client.get(url)
    return response.json() if response.status_code == 200 else None


def trail_types(client: httpx.Client, audit: ServiceAddress, item_id: str, count: int) -> list[str]:
    def complete() -> list[str] | None:
        body = get_json(client, f"{audit.rest}/v1/items/{item_id}/trail")
        types = (
            [e["event_type"].removeprefix("labelmesh.v1.") for e in body["entries"]] if body else []
        )
        return types if len(types) >= count else None

    return wait_for(complete, f"{count} audit entries of {item_id}")


def test_item_travels_the_whole_path_over_rest(
    stack: dict[str, ServiceAddress], client: httpx.Client
) -> None:
    ingest, inference, annotation = stack["ingest"], stack["inference"], stack["annotation"]
    review, audit = stack["review"], stack["audit"]

    created = client.post(
        f"{annotation.rest}/v1/projects",
        json={
            "name": "news",
            "data_type": "TEXT",
            "classes": ["sports", "politics", "technology"],
            "auto_accept_threshold": 0.95,
        },
    )
    assert created.status_code == 201, created.text
    project_id = created.json()["project"]["project_id"]

    # Ingest learns of the project through its event; uploads are refused until then.
    def upload() -> Any:
        response = client.post(
            f"{ingest.rest}/v1/projects/{project_id}/items",
            json={"items": [{"text": SPORTS}, {"text": ""}, {"text": VAGUE}]},
            headers={"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"},
        )
        assert response.headers["x-trace-id"] == TRACE_ID
        return response.json() if response.status_code == 200 else None

    results = wait_for(upload, "ingest to accept uploads for the new project")["results"]
    assert results[1]["item_id"] == ""
    assert results[1]["error"] == {
        "field": "items[1].text",
        "reason": "empty: an item needs text or non-empty file content",
    }
    sports_id, vague_id = results[0]["item_id"], results[2]["item_id"]
    files = client.post(
        f"{ingest.rest}/v1/projects/{project_id}/files",
        files=[("files", ("red.png", PNG, "image/png"))],
    )
    assert files.status_code == 200, files.text
    image_id = files.json()["results"][0]["item_id"]
    assert client.get(f"{ingest.rest}/v1/items/{image_id}/media").content == PNG

    # A confident prediction is accepted by itself and completes the item.
    prediction = wait_for(
        lambda: get_json(client, f"{inference.rest}/v1/items/{sports_id}/prediction"),
        "the prediction of the sports headline",
    )["prediction"]
    assert prediction["labels"][0]["classification"]["label"] == "sports"
    assert prediction["labels"][0]["confidence"] >= 0.95
    assert prediction["auto_accepted"] is True
    trail = wait_for(
        lambda: (
            (body := get_json(client, f"{audit.rest}/v1/items/{sports_id}/trail"))
            and len(body["entries"]) >= 5
            and body
        ),
        "the sports headline's trail",
    )
    # Every event the upload caused, in every service, carries the caller's trace.
    assert {e["trace_id"] for e in trail["entries"]} == {TRACE_ID}
    assert trail_types(client, audit, sports_id, 5) == [
        "ItemIngested",
        "PredictionCreated",
        "AnnotationAutoAccepted",
        "ReviewDecided",
        "ItemCompleted",
    ]

    # The rest become tasks: the vague text with its suggestion, the image without.
    tasks = {}
    for _ in range(2):
        task = wait_for(
            lambda: get_json_post(client, f"{annotation.rest}/v1/projects/{project_id}/tasks/next"),
            "a task",
        )
        tasks[task["item_id"]] = task
        submit_for(client, annotation, task)
    assert set(tasks) == {vague_id, image_id}
    assert tasks[vague_id]["text"] == VAGUE
    assert tasks[vague_id]["suggestion"][0]["confidence"] < 0.95
    assert tasks[vague_id]["suggestion_model"]["id"] == "all-minilm-l6-v2-zero-shot"
    assert tasks[image_id]["suggestion"] == []
    assert tasks[image_id]["data_type"] == "DATA_TYPE_IMAGE"

    reviews = wait_for(
        lambda: (
            (body := get_json(client, f"{review.rest}/v1/items/{vague_id}/reviews"))
            and body["completed"]
            and body
        ),
        "the review of the vague text",
    )
    decision = reviews["reviews"][0]
    assert decision["decision"] == "REVIEW_DECISION_APPROVED"
    assert decision["has_agreement"] is True
    assert decision["agreement"] == (
        1.0 if chosen_label(tasks[vague_id]) == suggested(tasks[vague_id]) else 0.0
    )

    chain = [
        "ItemIngested",
        "PredictionCreated",
        "TaskCreated",
        "AnnotationSubmitted",
        "ReviewDecided",
        "QualityScored",
        "ItemCompleted",
    ]
    assert trail_types(client, audit, vague_id, 7) == chain
    assert trail_types(client, audit, image_id, 7) == chain
    verified = client.get(f"{audit.rest}/v1/items/{vague_id}/trail/verify").json()
    assert verified == {"intact": True, "entries_checked": "7", "first_bad_sequence": "0"}


def get_json_post(client: httpx.Client, url: str) -> Any:
    response = client.post(url, json={"annotator": "alice"})
    return response.json()["task"] if response.status_code == 200 else None


def suggested(task: dict[str, Any]) -> str:
    return str(task["suggestion"][0]["classification"]["label"]) if task["suggestion"] else ""


def chosen_label(task: dict[str, Any]) -> str:
    """The annotator agrees with the model where there is a suggestion."""
    return suggested(task) or "technology"


def submit_for(client: httpx.Client, annotation: ServiceAddress, task: dict[str, Any]) -> None:
    url = f"{annotation.rest}/v1/tasks/{task['task_id']}/annotations"
    invalid = client.post(
        url, json={"annotator": "alice", "labels": [{"classification": {"label": "weather"}}]}
    )
    assert invalid.status_code == 422
    detail = invalid.json()["detail"][0]
    assert detail["field"] == "labels[0].classification.label"
    assert "'weather' is not a class of this project" in detail["msg"]
    assert client.get(f"{annotation.rest}/v1/items/{task['item_id']}/annotations").json() == {
        "annotations": []
    }
    shown = client.get(f"{annotation.rest}/v1/tasks/{task['task_id']}").json()
    assert (shown["task_status"], shown["status"]) == ("TASK_STATUS_ASSIGNED", "assigned")

    label = {"classification": {"label": chosen_label(task)}, "confidence": 1.0}
    valid = client.post(url, json={"annotator": "alice", "labels": [label]})
    assert valid.status_code == 201, valid.text
    again = client.post(url, json={"annotator": "alice", "labels": [label]})
    assert again.status_code == 409
    stored = client.get(f"{annotation.rest}/v1/items/{task['item_id']}/annotations").json()
    assert [a["annotation_id"] for a in stored["annotations"]] == [valid.json()["annotation_id"]]


def test_rejected_work_goes_back_to_the_queue_until_it_passes_review(api: RestApi) -> None:
    client = api.client
    annotation, review, audit = api.stack["annotation"], api.stack["review"], api.stack["audit"]
    project = api.new_text_project(
        name="strict",
        classes=["sports", "politics", "technology"],
        auto_accept_threshold=1.0,
        review_min_agreement=0.5,
    )
    [item_id] = api.upload_texts(project["project_id"], [SPORTS])
    next_url = f"{annotation.rest}/v1/projects/{project['project_id']}/tasks/next"

    def submit(label: str) -> dict[str, Any]:
        task: dict[str, Any] = wait_for(lambda: get_json_post(client, next_url), "a task")
        assert task["item_id"] == item_id
        response = client.post(
            f"{annotation.rest}/v1/tasks/{task['task_id']}/annotations",
            json={"annotator": "alice", "labels": [{"classification": {"label": label}}]},
        )
        assert response.status_code == 201, response.text
        return task

    first = submit("politics")  # disagrees with the model's "sports"
    reviews_url = f"{review.rest}/v1/items/{item_id}/reviews"
    rejected = wait_for(lambda: get_json(client, reviews_url)["reviews"] or None, "a review")
    assert rejected[0]["decision"] == "REVIEW_DECISION_REJECTED"
    assert "below 0.50" in rejected[0]["reason"]

    second = submit("sports")
    assert second["task_id"] == first["task_id"]
    final = wait_for(
        lambda: (body := get_json(client, reviews_url)) and body["completed"] and body,
        "the second review",
    )
    assert [r["decision"] for r in final["reviews"]] == [
        "REVIEW_DECISION_REJECTED",
        "REVIEW_DECISION_APPROVED",
    ]
    assert trail_types(client, audit, item_id, 9) == [
        "ItemIngested",
        "PredictionCreated",
        "TaskCreated",
        "AnnotationSubmitted",
        "ReviewDecided",
        "AnnotationSubmitted",
        "ReviewDecided",
        "QualityScored",
        "ItemCompleted",
    ]
    # Annotation learns of the completion from its own consumer, in its own time.
    task_url = f"{annotation.rest}/v1/tasks/{first['task_id']}"
    wait_for(
        lambda: client.get(task_url).json()["task_status"] == "TASK_STATUS_COMPLETED",
        "annotation to close the task",
    )
