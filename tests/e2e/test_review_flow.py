"""Two annotators per item, an expert stage and adjudication, through the running
services; every review event reaches the audit trail."""

from __future__ import annotations

from functools import partial
from typing import Any

import httpx
import pytest

from labelmesh.devstack.services import ServiceAddress
from labelmesh.testing.services import wait_for

from .rest_api import RestApi

pytestmark = pytest.mark.e2e

AGREED = "The striker scored twice in the cup final."
DISPUTED = "The minister opened a new stadium."
# How an item of two annotations settles: a decision on each annotation, a score
# for each annotator, then the item's completion.
SETTLED = ["ReviewDecided", "ReviewDecided", "QualityScored", "QualityScored", "ItemCompleted"]


def completed_trail(
    client: httpx.Client, audit: ServiceAddress, item_id: str, since: str
) -> list[str]:
    """The item's trail once it holds ItemCompleted, as short event type names, from
    its first `since` on."""

    def trail() -> list[str] | None:
        response = client.get(f"{audit.rest}/v1/items/{item_id}/trail")
        if response.status_code != 200:
            return None
        types = [e["event_type"].removeprefix("labelmesh.v1.") for e in response.json()["entries"]]
        return types if "ItemCompleted" in types else None

    types = wait_for(trail, f"ItemCompleted in the trail of {item_id}")
    return types[types.index(since) :]


def test_overlap_stage_and_adjudication_end_in_the_audit_trail(api: RestApi) -> None:
    client = api.client
    annotation, review, audit = api.stack["annotation"], api.stack["review"], api.stack["audit"]
    project = api.new_text_project(
        name="two pairs of eyes",
        classes=["sports", "politics"],
        auto_accept_threshold=1.0,
        review_policy={
            "overlap": 2,
            "consensus_threshold": 0.75,
            "stages": [
                {"name": "expert check", "role": "expert", "coverage": "REVIEW_COVERAGE_ALL"}
            ],
        },
    )
    project_id = project["project_id"]
    assert project["review_policy"]["overlap"] == 2
    # eve becomes the project's expert in the access service; review's policy shows it.
    expert = {"project_id": project_id, "subject": "eve", "roles": ["ROLE_EXPERT"]}
    granted = client.put(f"{api.stack['access'].rest}/v1/memberships", json=expert)
    assert granted.status_code == 200, granted.text
    policy_url = f"{review.rest}/v1/projects/{project_id}/review-policy"

    def eve_is_a_member() -> bool:
        response = client.get(policy_url)  # 404 until review knows the project
        members = response.json()["policy"].get("members", []) if response.is_success else []
        return any(m["user"] == "eve" and "expert" in m["roles"] for m in members)

    wait_for(eve_is_a_member, "eve among the review policy's members")
    agreed_id, disputed_id = api.upload_texts(project_id, [AGREED, DISPUTED])

    answers = {
        "alice": {AGREED: "sports", DISPUTED: "sports"},
        "bob": {AGREED: "sports", DISPUTED: "politics"},
    }
    for annotator, labels in answers.items():
        for _ in range(2):
            task = wait_for(
                partial(api.next_task, project_id, annotator), f"a task for {annotator}"
            )
            submitted = client.post(
                f"{annotation.rest}/v1/tasks/{task['task_id']}/annotations",
                json={
                    "annotator": annotator,
                    "labels": [{"classification": {"label": labels[task["text"]]}}],
                },
            )
            assert submitted.status_code == 201, submitted.text
    # Both slots of each item are taken: a third annotator finds nothing.
    assert api.next_task(project_id, "carol") is None

    next_url = f"{review.rest}/v1/projects/{project_id}/review-tasks/next"
    decided = {}
    for _ in range(2):
        task = wait_for(
            lambda: (
                r.json()["task"]
                if (r := client.post(next_url, json={"reviewer": "eve"})).status_code == 200
                else None
            ),
            "a review task for eve",
        )
        if task["kind"] == "review":
            assert task["item_id"] == agreed_id and task["agreement"] == 1.0
            body: dict[str, Any] = {"reviewer": "eve", "decision": "APPROVED", "reason": "right"}
        else:
            assert task["item_id"] == disputed_id and task["agreement"] == 0.5
            assert {c["annotator"] for c in task["candidates"]} == {"alice", "bob"}
            body = {
                "reviewer": "eve",
                "decision": "APPROVED",
                "reason": "a stadium opening is politics",
                "labels": [{"classification": {"label": "politics"}}],
            }
        response = client.post(
            f"{review.rest}/v1/review-tasks/{task['review_task_id']}/decision", json=body
        )
        assert response.status_code == 200, response.text
        outcome = response.json()
        decided[task["kind"]] = (task["task_kind"], outcome["outcome"], outcome["review_outcome"])
    assert decided == {
        "review": ("REVIEW_TASK_KIND_REVIEW", "completed", "REVIEW_OUTCOME_COMPLETED"),
        "adjudication": (
            "REVIEW_TASK_KIND_ADJUDICATION",
            "completed",
            "REVIEW_OUTCOME_COMPLETED",
        ),
    }

    assert completed_trail(client, audit, agreed_id, "ReviewRequested") == [
        "ReviewRequested",
        "ReviewDecided",  # eve's
        *SETTLED,  # alice's annotation and bob's
    ]
    assert completed_trail(client, audit, disputed_id, "AdjudicationRequested") == [
        "AdjudicationRequested",
        "AdjudicationDecided",
        *SETTLED,
    ]
    final = client.get(f"{review.rest}/v1/items/{disputed_id}/reviews").json()
    assert (final["state"], final["review_state"]) == ("completed", "REVIEW_STATE_COMPLETED")
    assert final["final_labels"][0]["classification"]["label"] == "politics"

    scores = client.get(f"{review.rest}/v1/projects/{project_id}/reports/annotators").json()
    accuracy = {row["annotator"]: row["accuracy"] for row in scores["annotators"]}
    assert accuracy == {"alice": 0.5, "bob": 1.0}
    reviewers = client.get(f"{review.rest}/v1/projects/{project_id}/reports/reviewers").json()
    [eve] = reviewers["reviewers"]
    assert (eve["reviewer"], eve["decisions"], eve["settled"], eve["match_rate"]) == (
        "eve",
        2,
        2,
        1.0,
    )
