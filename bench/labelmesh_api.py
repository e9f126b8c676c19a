"""LabelMesh's REST API as a user's script calls it: projects and queue stats
on annotation, uploads on ingest, and the annotator's claim and submit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence

import httpx

from bench.annotators import NoTask
from labelmesh.devstack.services import ServiceAddress

# Not a confidence a model reaches: every text becomes an open task for people.
NEVER_AUTO_ACCEPT = 1.0


class LabelMeshRest:
    """Calls through `client`, whose requests carry a credential (see StackKeys)."""

    def __init__(self, client: httpx.AsyncClient, addresses: Mapping[str, ServiceAddress]) -> None:
        self.client = client
        self.annotation = addresses["annotation"].rest
        self.ingest = addresses["ingest"].rest if "ingest" in addresses else ""

    async def create_text_project(self, name: str, classes: Sequence[str]) -> str:
        response = await self.client.post(
            f"{self.annotation}/v1/projects",
            json={
                "name": name,
                "data_type": "TEXT",
                "classes": list(classes),
                "auto_accept_threshold": NEVER_AUTO_ACCEPT,
            },
        )
        response.raise_for_status()
        project_id: str = response.json()["project"]["project_id"]
        return project_id

    async def upload(self, project_id: str, texts: Sequence[str]) -> None:
        response = await self.client.post(
            f"{self.ingest}/v1/projects/{project_id}/items",
            json={"items": [{"text": t} for t in texts]},
        )
        response.raise_for_status()

    async def wait_until_ingest_knows(self, project_id: str, within: float = 60) -> None:
        """Ingest hears of a new project by event and answers 404 until then; the
        probe uploads one text, which becomes one more task of the project."""
        deadline = time.monotonic() + within
        while True:
            try:
                await self.upload(project_id, [f"warm-up of {project_id}"])
                return
            except httpx.HTTPStatusError as error:
                if error.response.status_code != 404 or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.2)

    async def queue_stats(self, project_id: str) -> dict[str, int]:
        response = await self.client.get(f"{self.annotation}/v1/projects/{project_id}/queue")
        response.raise_for_status()
        return {k: int(v) for k, v in response.json().items()}

    async def claim(self, project_id: str, annotator: str) -> str:
        response = await self.client.post(
            f"{self.annotation}/v1/projects/{project_id}/tasks/next",
            json={"annotator": annotator},
        )
        response.raise_for_status()
        if response.status_code == 204:
            raise NoTask(project_id)
        task_id: str = response.json()["task"]["task_id"]
        return task_id

    async def submit(self, task_id: str, annotator: str, label: str) -> None:
        response = await self.client.post(
            f"{self.annotation}/v1/tasks/{task_id}/annotations",
            json={"annotator": annotator, "labels": [{"classification": {"label": label}}]},
        )
        response.raise_for_status()


class LabelMeshProject:
    """One LabelMesh project as its annotators see it (see `Annotating`)."""

    def __init__(self, rest: LabelMeshRest, project_id: str, label: str) -> None:
        self.rest = rest
        self.project_id = project_id
        self.label = label

    async def claim(self, annotator: str) -> str:
        return await self.rest.claim(self.project_id, annotator)

    async def submit(self, annotator: str, task_id: str) -> None:
        await self.rest.submit(task_id, annotator, self.label)
