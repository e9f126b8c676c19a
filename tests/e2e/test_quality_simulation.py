"""The whole quality pipeline against simulated annotators whose error rates are known.

2,000 text items, each labelled by all five annotators (overlap 5), with hidden
gold items mixed into their queues. The annotators err at 0, 5, 10, 20 and 40
percent, choosing a wrong class uniformly. The reports must recover each error
rate within 3 points, consensus must be right on at least 97 % of the items,
and only the 40 % annotator may be flagged.

It runs on a stack of its own (ingest, inference, annotation, review) so its
tens of thousands of events do not slow the other end-to-end tests.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from labelmesh.devstack.services import ServiceAddress, running_services, stack_env
from labelmesh.testing.services import wait_for

pytestmark = pytest.mark.e2e

ITEMS = 2_000
GOLD_ITEMS = 250  # enough that nobody runs out at a gold ratio of 0.1
CLASSES = ["alpha", "bravo", "charlie", "delta", "echo"]
ERROR_RATES = {"ann-0": 0.0, "ann-5": 0.05, "ann-10": 0.10, "ann-20": 0.20, "ann-40": 0.40}
UPLOAD_BATCH = 250


@pytest.fixture(scope="module")
def sim_stack(
    kafka_bootstrap: str, mongo_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceAddress]]:
    root: Path = tmp_path_factory.mktemp("simulation")
    env = {
        **stack_env(kafka_bootstrap, mongo_uri, "sim", root),
        "LABELMESH_OUTBOX_POLL_SECONDS": "0.05",
        "LABELMESH_LOG_LEVEL": "WARNING",
    }
    names = ["ingest", "inference", "annotation", "review"]
    with running_services(env, root / "logs", names=names) as addresses:
        yield addresses


def _unit(*parts: str) -> float:
    """A number in [0, 1) fixed by its inputs: the simulation is the same on every run."""
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def truth_of(index: int) -> str:
    return CLASSES[index % len(CLASSES)]


def answer(annotator: str, text: str, truth: str) -> str:
    if _unit(annotator, text, "errs") >= ERROR_RATES[annotator]:
        return truth
    wrong = [c for c in CLASSES if c != truth]
    return wrong[int(_unit(annotator, text, "which") * len(wrong))]


def classification(name: str) -> list[dict[str, Any]]:
    return [{"classification": {"label": name}, "confidence": 1.0}]


def test_reported_quality_matches_the_simulated_annotators(
    sim_stack: dict[str, ServiceAddress],
) -> None:
    annotation, review = sim_stack["annotation"].rest, sim_stack["review"].rest
    with httpx.Client(timeout=60, headers={"X-LabelMesh-User": "lead"}) as client:
        project = client.post(
            f"{annotation}/v1/projects",
            json={
                "name": "simulation",
                "data_type": "TEXT",
                "classes": CLASSES,
                # VADER's labels are no class of this project: tasks carry no suggestion,
                # and inference stays fast.
                "models": [{"model_id": "vader-sentiment"}],
                "auto_accept_threshold": 1.0,
                "review_policy": {
                    "overlap": 5,
                    "gold_ratio": 0.1,
                    "consensus_threshold": 0.0,
                    "flag_below_accuracy": 0.7,
                    "min_gold_answers": 20,
                },
            },
        )
        assert project.status_code == 201, project.text
        project_id = project.json()["project_id"]

        texts = {f"sample {i}: an item to classify": truth_of(i) for i in range(ITEMS)}
        gold_texts = {f"reference {i}: a gold item": truth_of(i) for i in range(GOLD_ITEMS)}
        truth = {**texts, **gold_texts}
        item_ids = _upload(client, sim_stack["ingest"].rest, project_id, list(truth))
        gold_ids = {item_ids[text]: label for text, label in gold_texts.items()}
        _set_gold(client, review, project_id, gold_ids)

        # Annotators start once every task is queued and every gold item is known as gold.
        def all_queued() -> bool:
            queue = _queue(client, annotation, project_id)
            return queue["open"] == ITEMS and queue["gold"] == GOLD_ITEMS

        wait_for(all_queued, "every task queued and every gold item marked", within=180)

    asyncio.run(_annotate(annotation, project_id, truth))

    with httpx.Client(timeout=60) as client:

        def all_completed() -> bool:
            return _queue(client, annotation, project_id)["completed"] == ITEMS

        wait_for(all_completed, "review to complete every item", within=300)
        report = client.get(f"{review}/v1/projects/{project_id}/reports/annotators").json()
        by_annotator = {row["annotator"]: row for row in report["annotators"]}
        finals = asyncio.run(_final_labels(review, [item_ids[t] for t in texts]))

    for annotator, error_rate in ERROR_RATES.items():
        row = by_annotator[annotator]
        assert abs(row["accuracy"] - (1 - error_rate)) <= 0.03, (annotator, row)
        assert row["gold_answers"] >= 200, row
        assert abs(row["gold_accuracy"] - (1 - error_rate)) <= 0.08, (annotator, row)
    flagged = {a for a, row in by_annotator.items() if row["flagged"]}
    assert flagged == {"ann-40"}

    correct = sum(finals[item_ids[text]] == label for text, label in texts.items())
    assert correct / ITEMS >= 0.97, correct


def _queue(client: httpx.Client, annotation: str, project_id: str) -> dict[str, int]:
    response = client.get(f"{annotation}/v1/projects/{project_id}/queue")
    assert response.status_code == 200, response.text
    queue: dict[str, int] = response.json()
    return queue


def _upload(client: httpx.Client, ingest: str, project_id: str, texts: list[str]) -> dict[str, str]:
    url = f"{ingest}/v1/projects/{project_id}/items"
    ids: dict[str, str] = {}
    for offset in range(0, len(texts), UPLOAD_BATCH):
        batch = texts[offset : offset + UPLOAD_BATCH]

        def post(batch: list[str] = batch) -> httpx.Response | None:
            response = client.post(url, json={"items": [{"text": t} for t in batch]})
            return None if response.status_code == 404 else response  # project not there yet

        response = wait_for(post, "ingest to know the project")
        assert response.status_code == 200, response.text
        for text, result in zip(batch, response.json()["results"], strict=True):
            ids[text] = result["item_id"]
    return ids


def _set_gold(client: httpx.Client, review: str, project_id: str, gold: dict[str, str]) -> None:
    body = {"items": [{"item_id": i, "labels": classification(c)} for i, c in gold.items()]}

    def attempt() -> bool:
        response = client.post(f"{review}/v1/projects/{project_id}/gold", json=body)
        if response.status_code == 404:  # the project has not reached review yet
            return False
        assert response.status_code == 200, response.text
        assert all(r["ok"] for r in response.json()["results"]), response.text
        return True

    wait_for(attempt, "review to know the project")


async def _annotate(annotation: str, project_id: str, truth: dict[str, str]) -> None:
    """Each simulated annotator takes tasks until their queue is empty."""

    async def work(annotator: str) -> None:
        async with httpx.AsyncClient(timeout=60) as client:
            while True:
                response = await client.post(
                    f"{annotation}/v1/projects/{project_id}/tasks/next",
                    json={"annotator": annotator},
                )
                if response.status_code == 204:
                    return
                assert response.status_code == 200, response.text
                task = response.json()
                label = answer(annotator, task["text"], truth[task["text"]])
                submitted = await client.post(
                    f"{annotation}/v1/tasks/{task['task_id']}/annotations",
                    json={"annotator": annotator, "labels": classification(label)},
                )
                assert submitted.status_code == 201, submitted.text

    await asyncio.gather(*(work(annotator) for annotator in ERROR_RATES))


async def _final_labels(review: str, item_ids: list[str]) -> dict[str, str]:
    limit = asyncio.Semaphore(16)

    async def final(client: httpx.AsyncClient, item_id: str) -> tuple[str, str]:
        async with limit:
            body = (await client.get(f"{review}/v1/items/{item_id}/reviews")).json()
        labels = body["final_labels"]
        return item_id, labels[0]["classification"]["label"] if labels else ""

    async with httpx.AsyncClient(timeout=60) as client:
        return dict(await asyncio.gather(*(final(client, i) for i in item_ids)))
