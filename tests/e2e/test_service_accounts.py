"""A service account's work is recorded as its API key's, not as a person's."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from labelmesh.testing.access import bearer
from labelmesh.testing.services import wait_for

from .rest_api import RestApi

pytestmark = pytest.mark.e2e


def service_account(api: RestApi, project_id: str, subject: str, role: str) -> httpx.Client:
    """A client with a new service-account key of `subject`, who holds `role` in the project."""
    access = api.stack["access"].rest
    membership = {"project_id": project_id, "subject": subject, "roles": [role]}
    assert api.client.put(f"{access}/v1/memberships", json=membership).status_code == 200
    made = api.client.post(
        f"{access}/v1/api-keys",
        json={"subject": subject, "name": "pipeline", "service_account": True},
    )
    assert made.status_code == 201, made.text
    return httpx.Client(timeout=30, headers=bearer(made.json()["secret"]))


def test_a_service_accounts_annotation_and_review_are_its_keys_in_the_audit_trail(
    api: RestApi,
) -> None:
    annotation, review, audit = (api.stack[s].rest for s in ("annotation", "review", "audit"))
    project_id = api.new_text_project(
        name="machine pair",
        classes=["sports", "politics"],
        auto_accept_threshold=1.0,
        review_policy={
            "stages": [{"name": "check", "role": "reviewer", "coverage": "REVIEW_COVERAGE_ALL"}]
        },
    )["project_id"]
    labeller = service_account(api, project_id, "label-bot", "ROLE_ANNOTATOR")
    checker = service_account(api, project_id, "check-bot", "ROLE_REVIEWER")
    [item_id] = api.upload_texts(project_id, ["The striker scored twice."])

    with labeller, checker:

        def taken(client: httpx.Client, url: str) -> Any:
            response = client.post(url, json={})
            return response.json()["task"] if response.status_code == 200 else None

        task = wait_for(
            lambda: taken(labeller, f"{annotation}/v1/projects/{project_id}/tasks/next"),
            "a task for the labelling service account",
        )
        submitted = labeller.post(
            f"{annotation}/v1/tasks/{task['task_id']}/annotations",
            json={"labels": [{"classification": {"label": "sports"}}]},
        )
        assert submitted.status_code == 201, submitted.text
        review_task = wait_for(
            lambda: taken(checker, f"{review}/v1/projects/{project_id}/review-tasks/next"),
            "a review task for the checking service account",
        )
        decided = checker.post(
            f"{review}/v1/review-tasks/{review_task['review_task_id']}/decision",
            json={"decision": "APPROVED", "reason": "right"},
        )
        assert decided.status_code == 200, decided.text

    def actors() -> dict[str, set[str]] | None:
        response = api.client.get(f"{audit}/v1/items/{item_id}/trail")
        if response.status_code != 200:
            return None
        by_type: dict[str, set[str]] = {}
        for entry in response.json()["entries"]:
            by_type.setdefault(entry["event_type"].removeprefix("labelmesh.v1."), set()).add(
                entry["actor"]
            )
        return by_type if "ReviewDecided" in by_type else None

    recorded = wait_for(actors, "the review decision in the audit trail")
    assert recorded["AnnotationSubmitted"] == {"KIND_API_KEY:label-bot"}
    assert recorded["ReviewDecided"] == {"KIND_API_KEY:check-bot"}
