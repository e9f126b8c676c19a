"""The running services as a user drives them over REST."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from labelmesh.devstack.services import ServiceAddress
from labelmesh.testing.services import wait_for


@dataclass(frozen=True)
class RestApi:
    """Every service's address, one client, and the calls that the flows share."""

    stack: dict[str, ServiceAddress]
    client: httpx.Client

    def new_text_project(self, **fields: Any) -> dict[str, Any]:
        """Create a text project with the given fields; returns it."""
        response = self.client.post(
            f"{self.stack['annotation'].rest}/v1/projects", json={"data_type": "TEXT", **fields}
        )
        assert response.status_code == 201, response.text
        project: dict[str, Any] = response.json()["project"]
        return project

    def upload_texts(self, project_id: str, texts: list[str]) -> list[str]:
        """Upload texts to a project once ingest has heard of it; returns the item ids."""
        url = f"{self.stack['ingest'].rest}/v1/projects/{project_id}/items"
        body = {"items": [{"text": text} for text in texts]}

        def attempt() -> list[str] | None:
            response = self.client.post(url, json=body)
            if response.status_code == 404:  # the project's event has not reached ingest yet
                return None
            assert response.status_code == 200, response.text
            return [result["item_id"] for result in response.json()["results"]]

        return wait_for(attempt, "ingest to know the project")

    def next_task(self, project_id: str, annotator: str) -> dict[str, Any] | None:
        """The annotator's next task in a project, or None when none waits."""
        response = self.client.post(
            f"{self.stack['annotation'].rest}/v1/projects/{project_id}/tasks/next",
            json={"annotator": annotator},
        )
        assert response.status_code in (200, 204), response.text
        task: dict[str, Any] | None = (
            response.json()["task"] if response.status_code == 200 else None
        )
        return task
