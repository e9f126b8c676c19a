"""The five services as real processes against the session's broker and database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from labelmesh.devstack.services import ServiceAddress, running_services, stack_env
from labelmesh.testing.services import wait_for


@pytest.fixture(scope="session")
def stack(
    kafka_bootstrap: str, mongo_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceAddress]]:
    """Every service running, keyed by name; their logs are shown if one fails to start."""
    root: Path = tmp_path_factory.mktemp("stack")
    env = {
        **stack_env(kafka_bootstrap, mongo_uri, "e2e", root),
        "LABELMESH_OUTBOX_POLL_SECONDS": "0.05",
    }
    with running_services(env, root / "logs") as addresses:
        yield addresses


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, headers={"X-LabelMesh-User": "dana"}) as http:
        yield http


@pytest.fixture
def new_text_project(
    stack: dict[str, ServiceAddress], client: httpx.Client
) -> Callable[..., dict[str, Any]]:
    """Create a text project with the given fields over REST; returns it."""

    def create(**fields: Any) -> dict[str, Any]:
        response = client.post(
            f"{stack['annotation'].rest}/v1/projects", json={"data_type": "TEXT", **fields}
        )
        assert response.status_code == 201, response.text
        project: dict[str, Any] = response.json()["project"]
        return project

    return create


@pytest.fixture
def upload_texts(
    stack: dict[str, ServiceAddress], client: httpx.Client
) -> Callable[[str, list[str]], list[str]]:
    """Upload texts to a project once ingest has heard of it; returns the item ids."""

    def upload(project_id: str, texts: list[str]) -> list[str]:
        url = f"{stack['ingest'].rest}/v1/projects/{project_id}/items"
        body = {"items": [{"text": text} for text in texts]}

        def attempt() -> list[str] | None:
            response = client.post(url, json=body)
            if response.status_code == 404:  # the project's event has not reached ingest yet
                return None
            assert response.status_code == 200, response.text
            return [result["item_id"] for result in response.json()["results"]]

        return wait_for(attempt, "ingest to know the project")

    return upload


@pytest.fixture
def next_task(
    stack: dict[str, ServiceAddress], client: httpx.Client
) -> Callable[[str, str], dict[str, Any] | None]:
    """The annotator's next task in a project over REST, or None when none waits."""

    def take(project_id: str, annotator: str) -> dict[str, Any] | None:
        response = client.post(
            f"{stack['annotation'].rest}/v1/projects/{project_id}/tasks/next",
            json={"annotator": annotator},
        )
        assert response.status_code in (200, 204), response.text
        task: dict[str, Any] | None = (
            response.json()["task"] if response.status_code == 200 else None
        )
        return task

    return take
