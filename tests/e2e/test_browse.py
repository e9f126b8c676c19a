"""Browsing a project's items on the running services: items uploaded, some
annotated by one person, some by two who agreed, listed through every filter
a page at a time over REST and gRPC."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import grpc
import httpx
import pytest

from labelmesh.devstack.keys import StackKeys
from labelmesh.testing.services import wait_for
from labelmesh.v1 import dataset_service_pb2 as pb
from labelmesh.v1 import dataset_service_pb2_grpc as pb_grpc
from labelmesh.v1.events_pb2 import DataType

from .rest_api import RestApi

pytestmark = pytest.mark.e2e

TEXTS = {
    "the match ended 2-1": {"league": "premier"},
    "parliament voted": {},
    "a late goal": {"league": "premier"},
    "the cup final": {"league": "cup"},
    "budget vote " + "x" * 300: {},
}


def listed(api: RestApi, project_id: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every item a listing gives, page after page, and how many pages it took."""
    url = f"{api.stack['dataset'].rest}/v1/projects/{project_id}/items"
    items: list[dict[str, Any]] = []
    pages, token = 0, ""
    while True:
        response = api.client.get(url, params={**params, "page_token": token})
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        pages += 1
        token = body["next_page_token"]
        if not token:
            return items, pages


def ids(api: RestApi, project_id: str, **params: Any) -> list[str]:
    return [item["item_id"] for item in listed(api, project_id, **params)[0]]


def annotate(api: RestApi, project_id: str, annotator: str, times: int) -> set[str]:
    """`annotator` labels their next `times` tasks as sports; returns the items."""
    done = set()
    for _ in range(times):
        task = wait_for(partial(api.next_task, project_id, annotator), f"a task for {annotator}")
        submitted = api.client.post(
            f"{api.stack['annotation'].rest}/v1/tasks/{task['task_id']}/annotations",
            json={"annotator": annotator, "labels": [{"classification": {"label": "sports"}}]},
        )
        assert submitted.status_code == 201, submitted.text
        done.add(task["item_id"])
    return done


def test_items_page_through_every_filter_over_rest_and_grpc(api: RestApi, keys: StackKeys) -> None:
    project = api.new_text_project(
        name="browse",
        classes=["sports", "politics"],
        auto_accept_threshold=1.0,
        review_policy={"overlap": 2, "consensus_threshold": 0.75},
    )
    project_id = project["project_id"]
    upload = f"{api.stack['ingest'].rest}/v1/projects/{project_id}/items"
    body = {"items": [{"text": t, "metadata": m} for t, m in TEXTS.items()]}
    uploaded = wait_for(
        lambda: r if (r := api.client.post(upload, json=body)).status_code == 200 else None,
        "ingest to know the project",
    )
    item_ids = [result["item_id"] for result in uploaded.json()["results"]]
    by_text = dict(zip(TEXTS, item_ids, strict=True))
    alice = annotate(api, project_id, "alice", 3)
    bob = annotate(api, project_id, "bob", 2)
    agreed, alone = alice & bob, alice ^ bob
    assert agreed and alone
    # The order the dataset service heard of the items in; every listing keeps it.
    order = wait_for(
        lambda: found if len(found := ids(api, project_id)) == len(TEXTS) else None,
        "the dataset service to hear of every item",
    )
    assert sorted(order) == sorted(item_ids)

    def in_order(chosen: set[str]) -> list[str]:
        return [i for i in order if i in chosen]

    wait_for(
        lambda: ids(api, project_id, status="accepted") == in_order(agreed) or None,
        "the agreed items accepted in the dataset service",
    )
    wait_for(
        lambda: ids(api, project_id, status="annotated") == in_order(alone) or None,
        "the items one person annotated",
    )
    everything, pages = listed(api, project_id, page_size=2)
    assert [i["item_id"] for i in everything] == order and pages == 3
    shown = {i["item_id"]: i for i in everything}
    first = shown[by_text["the match ended 2-1"]]
    assert first["source"] == "upload" and first["data_type"] == "DATA_TYPE_TEXT"
    assert first["metadata"] == {"league": "premier"} and first["created_at"]
    assert len(shown[by_text["budget vote " + "x" * 300]]["text"]) == 200
    untouched = set(item_ids) - alice - bob
    assert ids(api, project_id, status="new") == in_order(untouched)
    assert ids(api, project_id, **{"class": "sports"}) == in_order(alice | bob)
    assert ids(api, project_id, annotator="bob") == in_order(bob)
    assert ids(api, project_id, annotator="bob", status="accepted") == in_order(agreed)
    assert ids(api, project_id, source="upload") == order
    assert ids(api, project_id, source="url") == []
    assert ids(api, project_id, data_type="DATA_TYPE_TEXT") == order
    assert ids(api, project_id, data_type="IMAGE") == []
    premier = {by_text["the match ended 2-1"], by_text["a late goal"]}
    assert ids(api, project_id, metadata="league:premier") == in_order(premier)
    assert ids(api, project_id, metadata=["league:premier", "league:cup"]) == []
    assert ids(api, project_id, q="VOTE") == [by_text["budget vote " + "x" * 300]]
    assert ids(api, project_id, q="the match") == [by_text["the match ended 2-1"]]
    accepted_item = next(i for i in everything if i["item_id"] in agreed)
    assert accepted_item["classes"] == ["sports"]
    assert accepted_item["annotators"] == ["alice", "bob"]

    url = f"{api.stack['dataset'].rest}/v1/projects/{project_id}/items"
    refused = api.client.get(url, params={"status": "done"})
    assert refused.status_code == 422
    [detail] = refused.json()["detail"]
    assert detail["field"] == "status"
    assert detail["msg"] == "must be one of new, annotated, accepted, in_rereview, flagged"
    bad_meta = api.client.get(url, params={"metadata": "league"})
    assert bad_meta.status_code == 422 and bad_meta.json()["detail"][0]["field"] == "metadata[0]"
    too_big = api.client.get(url, params={"page_size": 501})
    assert too_big.status_code == 422 and too_big.json()["detail"][0]["field"] == "page_size"

    with grpc.insecure_channel(api.stack["dataset"].grpc) as channel:
        stub = pb_grpc.DatasetServiceStub(channel)
        auth = [("authorization", f"Bearer {keys.admin_key}")]
        found = stub.ListItems(
            pb.ListItemsRequest(
                project_id=project_id, class_name="sports", data_type=DataType.DATA_TYPE_TEXT
            ),
            metadata=auth,
        )
        assert [i.item_id for i in found.items] == in_order(alice | bob)
        assert found.next_page_token == ""
        with pytest.raises(grpc.RpcError) as bad:
            stub.ListItems(pb.ListItemsRequest(project_id=project_id, q="?!"), metadata=auth)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_an_annotator_lists_items_without_others_classes_and_annotators(
    api: RestApi, keys: StackKeys
) -> None:
    project = api.new_text_project(
        name="browse-roles", classes=["sports", "politics"], auto_accept_threshold=1.0
    )
    project_id = project["project_id"]
    [item_id] = api.upload_texts(project_id, ["a penalty"])
    annotate(api, project_id, "carol", 1)
    subject = f"viewer-{uuid.uuid4().hex[:8]}"
    access = api.stack["access"].rest
    member = {"project_id": project_id, "subject": subject, "roles": ["ROLE_ANNOTATOR"]}
    assert api.client.put(f"{access}/v1/memberships", json=member).status_code == 200
    made = api.client.post(f"{access}/v1/api-keys", json={"subject": subject, "name": "browse"})
    assert made.status_code == 201, made.text
    url = f"{api.stack['dataset'].rest}/v1/projects/{project_id}/items"
    wait_for(
        lambda: ids(api, project_id, annotator="carol") == [item_id] or None,
        "the annotation in the dataset service",
    )
    headers = {"Authorization": f"Bearer {made.json()['secret']}"}
    with httpx.Client(timeout=30, headers=headers) as viewer:
        seen = viewer.get(url)
        assert seen.status_code == 200, seen.text
        [item] = seen.json()["items"]
        assert item["item_id"] == item_id and item["status"] != "new"
        assert item["classes"] == [] and item["annotators"] == []
        assert viewer.get(url, params={"class": "sports"}).status_code == 403
        assert viewer.get(url, params={"annotator": "carol"}).status_code == 403
