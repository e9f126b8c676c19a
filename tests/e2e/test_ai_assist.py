"""AI Assist and auto-annotation on images, through the five services' REST APIs."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image
from skimage import data

from labelmesh.devstack.services import ServiceAddress
from labelmesh.testing.services import wait_for

pytestmark = pytest.mark.e2e
FACES = "mediapipe-face-detection"


def astronaut_png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, format="PNG")
    return buffer.getvalue()


def get_json(client: httpx.Client, url: str) -> Any:
    response = client.get(url)
    return response.json() if response.status_code == 200 else None


def trail(client: httpx.Client, audit: ServiceAddress, item_id: str, *wanted: str) -> list[Any]:
    """The item's audit entries, once every wanted event type is among them."""

    def complete() -> list[Any] | None:
        body = get_json(client, f"{audit.rest}/v1/items/{item_id}/trail")
        entries: list[Any] = body["entries"] if body else []
        types = {e["event_type"].rsplit(".", 1)[-1] for e in entries}
        return entries if set(wanted) <= types else None

    return wait_for(complete, f"{', '.join(wanted)} in the audit trail of {item_id}")


def test_face_suggestions_are_accepted_in_one_click_and_their_source_is_kept(
    stack: dict[str, ServiceAddress], client: httpx.Client
) -> None:
    annotation, ingest, inference, audit = (
        stack[name] for name in ("annotation", "ingest", "inference", "audit")
    )
    created = client.post(
        f"{annotation.rest}/v1/projects",
        json={
            "name": "faces",
            "data_type": "IMAGE",
            "classes": ["face"],
            "models": [{"model_id": FACES}],
            "auto_annotation": {"default_min_confidence": 0.95, "floor": 0.3},
        },
    )
    assert created.status_code == 201, created.text
    project_id = created.json()["project"]["project_id"]
    image = astronaut_png()

    def upload() -> Any:
        response = client.post(
            f"{ingest.rest}/v1/projects/{project_id}/files",
            files=[
                ("files", ("astronaut.png", image, "image/png")),
                ("files", ("broken.png", image[:400], "image/png")),
            ],
        )
        return response.json()["results"] if response.status_code == 200 else None

    uploaded = wait_for(upload, "ingest to know the project")
    astronaut_id, broken_id = (r["item_id"] for r in uploaded)

    # The face is found but under the project's 0.95: a task carries the suggestion.
    prediction = wait_for(
        lambda: get_json(client, f"{inference.rest}/v1/items/{astronaut_id}/prediction"),
        "the astronaut's prediction",
    )["prediction"]
    assert prediction["status"] == "AUTO_ANNOTATION_STATUS_AWAITING_REVIEW"
    assert prediction["rule_version"] == 1
    tasks, assignees = {}, {}
    for annotator in ("ana", "ben"):
        task = wait_for(
            lambda annotator=annotator: (
                (
                    response := client.post(
                        f"{annotation.rest}/v1/projects/{project_id}/tasks/next",
                        json={"annotator": annotator},
                    )
                ).status_code
                == 200
                and response.json()["task"]
            ),
            "a task",
        )
        tasks[task["item_id"]], assignees[task["item_id"]] = task, annotator
    assert tasks[broken_id]["suggestion"] == []
    suggestions = tasks[astronaut_id]["suggestion"]
    box = next(s for s in suggestions if "bounding_box" in s)
    assert box["source"]["model_id"] == FACES

    # AI Assist on demand: the model's fresh suggestions join the task.
    assisted = client.post(
        f"{inference.rest}/v1/assist",
        json={
            "project_id": project_id,
            "item_ids": [astronaut_id],
            "model_id": "mediapipe-face-detection",
            "min_confidence": 0.5,
        },
    )
    assert assisted.status_code == 200, assisted.text
    [item] = assisted.json()["items"]
    assert item["error"] == "" and item["labels"]

    def task_with_assist() -> Any:
        task = get_json(client, f"{annotation.rest}/v1/tasks/{tasks[astronaut_id]['task_id']}")
        return task if len(task["suggestion"]) > len(suggestions) else None

    task = wait_for(task_with_assist, "the assisted suggestions on the task")

    # One click accepts the box; every other suggestion counts as rejected.
    accepted = client.post(
        f"{annotation.rest}/v1/tasks/{task['task_id']}/suggestions/accept",
        json={
            "annotator": assignees[astronaut_id],
            "suggestion_ids": [box["source"]["suggestion_id"]],
        },
    )
    assert accepted.status_code == 201, accepted.text
    [stored] = client.get(f"{annotation.rest}/v1/items/{astronaut_id}/annotations").json()[
        "annotations"
    ]
    assert stored["source"] == "ANNOTATION_SOURCE_SUGGESTION"
    assert stored["labels"][0]["source"] == {
        **box["source"],
        "accepted_by": assignees[astronaut_id],
    }

    entries = trail(
        client, audit, astronaut_id, "SuggestionAccepted", "SuggestionRejected", "ItemCompleted"
    )
    types = [e["event_type"].rsplit(".", 1)[-1] for e in entries]
    assert types.count("SuggestionRejected") == len(task["suggestion"]) - 1
    assert "PredictionFailed" in [
        e["event_type"].rsplit(".", 1)[-1]
        for e in trail(client, audit, broken_id, "PredictionFailed")
    ]

    def judged() -> Any:
        quality = get_json(client, f"{inference.rest}/v1/models/{FACES}")["model"]["quality"]
        return quality if int(quality["accepted"]) == 1 else None

    quality = wait_for(judged, "the face model's measured precision")
    assert int(quality["rejected"]) == len(task["suggestion"]) - 1
    assert 0 < quality["precision"] < 1
