"""The REST API on the in-memory twins: the proto-JSON of the gRPC messages,
request bodies as clients send them, errors naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from labelmesh.annotation.api import rest
from labelmesh.core.api import rest_app
from labelmesh.testing.access import StaticAuthenticator, static_signer
from labelmesh.testing.twins.annotation import AnnotationTwins
from labelmesh.v1.geometry_pb2 import Classification, Label, LabelSource

POLITICS = [{"classification": {"label": "politics"}}]


@pytest.fixture
async def api(twins: AnnotationTwins) -> AsyncIterator[httpx.AsyncClient]:
    callers = StaticAuthenticator({})
    app = rest_app("annotation", rest.router(twins.secured), twins.registry, {}, callers)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://annotation",
        event_hooks={"request": [static_signer(callers)]},
    ) as client:
        yield client


def project_body(**fields: Any) -> dict[str, Any]:
    return {"name": "news", "data_type": "TEXT", "classes": ["sports", "politics"], **fields}


async def test_a_created_project_is_the_create_project_response(
    api: httpx.AsyncClient,
) -> None:
    created = await api.post(
        "/v1/projects",
        json=project_body(
            models=[{"model_id": "zero-shot", "label_map": {"sport": "sports"}}],
            auto_annotation={"default_min_confidence": 0.95, "floor": 0.3},
            review_policy={"overlap": 2},
        ),
    )
    assert created.status_code == 201, created.text
    project = created.json()["project"]
    assert project["data_type"] == "DATA_TYPE_TEXT"
    assert (project["name"], project["classes"], project["auto_accept_threshold"]) == (
        "news",
        ["sports", "politics"],
        0.9,
    )
    assert project["models"] == [{"model_id": "zero-shot", "label_map": {"sport": "sports"}}]
    assert project["auto_annotation"]["version"] == 1
    assert (project["review_policy"]["version"], project["review_policy"]["overlap"]) == (1, 2)
    fetched = await api.get(f"/v1/projects/{project['project_id']}")
    assert fetched.json() == {"project": project}

    image = await api.post("/v1/projects", json=project_body(data_type="DATA_TYPE_IMAGE"))
    plain = image.json()["project"]
    assert plain["data_type"] == "DATA_TYPE_IMAGE" and plain["models"] == []
    assert "review_policy" not in plain and "auto_annotation" not in plain
    assert (await api.get("/v1/projects/nope")).status_code == 404


async def test_projects_are_listed_a_page_at_a_time(api: httpx.AsyncClient) -> None:
    ids = []
    for n in range(3):
        created = await api.post("/v1/projects", json=project_body(name=f"news {n}"))
        ids.append(created.json()["project"]["project_id"])
    first = await api.get("/v1/projects", params={"page_size": 2})
    assert first.status_code == 200, first.text
    body = first.json()
    assert [p["project_id"] for p in body["projects"]] == [ids[2], ids[1]]
    assert body["projects"][0]["data_type"] == "DATA_TYPE_TEXT"
    rest = await api.get("/v1/projects", params={"page_token": body["next_page_token"]})
    assert [p["project_id"] for p in rest.json()["projects"]] == [ids[0]]
    assert rest.json()["next_page_token"] == ""
    bad = await api.get("/v1/projects", params={"page_token": "nonsense"})
    assert (bad.status_code, bad.json()["detail"][0]["field"]) == (422, "page_token")
    too_many = await api.get("/v1/projects", params={"page_size": 500})
    assert (too_many.status_code, too_many.json()["detail"][0]["field"]) == (422, "page_size")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"data_type": "SMELL"}, "data_type"),
        ({"models": [{"model_idd": "m"}]}, "models[0]"),
        ({"models": [{"model_id": "m"}, "m"]}, "models[1]"),
        ({"models": {"model_id": "m"}}, "models"),
        ({"auto_annotation": "high"}, "auto_annotation"),
        ({"review_policy": {"overlapp": 2}}, "review_policy"),
        ({"models": [{"model_id": "m", "label_map": {"x": "weather"}}]}, "models[0].label_map[x]"),
    ],
)
async def test_a_bad_project_body_names_the_field(
    api: httpx.AsyncClient, fields: dict[str, Any], field: str
) -> None:
    response = await api.post("/v1/projects", json=project_body(**fields))
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["field"] == field


async def test_tasks_are_handed_out_shown_and_worked_on(
    api: httpx.AsyncClient, twins: AnnotationTwins
) -> None:
    pid = await twins.project()
    await twins.add_items(pid, "item-1")
    taken = await api.post(f"/v1/projects/{pid}/tasks/next", json={"annotator": "ana"})
    assert taken.status_code == 200, taken.text
    task = taken.json()["task"]
    assert (task["item_id"], task["data_type"], task["text"]) == (
        "item-1",
        "DATA_TYPE_TEXT",
        "text of item-1",
    )
    assert (task["status"], task["task_status"], task["assignee"], task["assignees"]) == (
        "assigned",
        "TASK_STATUS_ASSIGNED",
        "ana",
        ["ana"],
    )
    assert task["suggestion_model"] == {"id": "m", "version": "1"}
    assert task["suggestion"][0]["classification"]["label"] == "sports"
    empty = await api.post(f"/v1/projects/{pid}/tasks/next", json={"annotator": "ben"})
    assert (empty.status_code, empty.content) == (204, b"")
    queue = await api.get(f"/v1/projects/{pid}/queue")
    assert queue.json() == {
        "open": 0,
        "assigned": 1,
        "submitted": 0,
        "completed": 0,
        "auto_accepted": 0,
        "pending": 0,
        "gold": 0,
        "cancelled": 0,
    }

    url = f"/v1/tasks/{task['task_id']}/annotations"
    bad = await api.post(url, json={"annotator": "ana", "labels": [{"classification": 3}]})
    assert (bad.status_code, bad.json()["detail"][0]["field"]) == (422, "labels[0]")
    not_a_list = await api.post(url, json={"annotator": "ana", "labels": POLITICS[0]})
    assert (not_a_list.status_code, not_a_list.json()["detail"][0]["field"]) == (422, "labels")
    submitted = await api.post(url, json={"annotator": "ana", "labels": POLITICS})
    assert submitted.status_code == 201, submitted.text
    annotation_id = submitted.json()["annotation_id"]
    assert (await api.post(url, json={"annotator": "ana", "labels": POLITICS})).status_code == 409

    shown = (await api.get(f"/v1/tasks/{task['task_id']}")).json()
    assert (shown["status"], shown["task_status"]) == ("submitted", "TASK_STATUS_SUBMITTED")
    assert shown.keys() == task.keys()
    [stored] = (await api.get("/v1/items/item-1/annotations")).json()["annotations"]
    assert (stored["annotation_id"], stored["task_id"], stored["annotator"]) == (
        annotation_id,
        task["task_id"],
        "ana",
    )
    assert (stored["source"], stored["decision"], stored["rule_version"]) == (
        "ANNOTATION_SOURCE_HUMAN",
        "ANNOTATION_DECISION_UNSPECIFIED",
        0,
    )
    assert stored["labels"] == [{**POLITICS[0], "confidence": 0.0}]
    assert stored["created_at"].endswith("Z")
    assert (await api.get("/v1/items/other/annotations")).json() == {"annotations": []}
    assert (await api.get("/v1/tasks/nope")).status_code == 404


def offered(suggestion_id: str, score: float) -> Label:
    return Label(
        classification=Classification(label="sports"),
        confidence=score,
        source=LabelSource(model_id="m", score=score, suggestion_id=suggestion_id),
    )


async def test_suggestions_are_rejected_and_accepted(
    api: httpx.AsyncClient, twins: AnnotationTwins
) -> None:
    pid = await twins.project()
    await twins.add_items(pid, "item-1")
    await twins.publish(
        pid, "item-1", twins.suggestion("item-1", offered("s1", 0.9), offered("s2", 0.4))
    )
    taken = await api.post(f"/v1/projects/{pid}/tasks/next", json={"annotator": "bo"})
    task = taken.json()["task"]
    assert [s["source"]["suggestion_id"] for s in task["suggestion"]] == ["s1", "s2"]

    rejected = await api.post(
        f"/v1/tasks/{task['task_id']}/suggestions/s2/reject",
        json={"annotator": "bo", "reason": "a poster"},
    )
    assert (rejected.status_code, rejected.content) == (204, b"")
    after = (await api.get(f"/v1/tasks/{task['task_id']}", params={"annotator": "bo"})).json()
    assert [s["source"]["suggestion_id"] for s in after["suggestion"]] == ["s1"]

    accepted = await api.post(
        f"/v1/tasks/{task['task_id']}/suggestions/accept",
        json={"annotator": "bo", "suggestion_ids": ["s1"]},
    )
    assert accepted.status_code == 201, accepted.text
    [stored] = (await api.get("/v1/items/item-1/annotations")).json()["annotations"]
    assert stored["annotation_id"] == accepted.json()["annotation_id"]
    assert stored["source"] == "ANNOTATION_SOURCE_SUGGESTION"
    assert stored["labels"][0]["source"] == {
        "model_id": "m",
        "model_version": "",
        "score": 0.9,
        "suggestion_id": "s1",
        "accepted_by": "bo",
    }
