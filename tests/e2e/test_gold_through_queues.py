"""Gold items through the real queues: annotation mixes them into each annotator's
tasks at the policy's ratio, review scores the answers against the hidden key and
flags the annotator who gets them wrong, while the other items reach consensus."""

from __future__ import annotations

from typing import Any

import pytest

from labelmesh.testing.services import wait_for

from .rest_api import RestApi

pytestmark = pytest.mark.e2e

CLASSES = ["alpha", "bravo", "charlie"]
REGULAR, GOLD = 60, 20


def test_gold_is_mixed_in_scored_and_flags_the_careless_annotator(api: RestApi) -> None:
    client = api.client
    annotation, review = api.stack["annotation"].rest, api.stack["review"].rest
    project = api.new_text_project(
        name="gold in the queue",
        classes=CLASSES,
        models=[{"model_id": "vader-sentiment"}],  # no label of it is a class: no suggestions
        auto_accept_threshold=1.0,
        review_policy={
            "overlap": 3,
            "gold_ratio": 0.2,
            "flag_below_accuracy": 0.5,
            "min_gold_answers": 10,
        },
    )
    project_id = project["project_id"]
    truth = {f"regular text {i}": CLASSES[i % 3] for i in range(REGULAR)}
    truth |= {f"gold text {i}": CLASSES[i % 3] for i in range(GOLD)}
    ids = dict(zip(truth, api.upload_texts(project_id, list(truth)), strict=True))
    gold = [
        {"item_id": ids[text], "labels": [{"classification": {"label": truth[text]}}]}
        for text in truth
        if text.startswith("gold")
    ]

    def set_gold() -> bool:
        response = client.post(f"{review}/v1/projects/{project_id}/gold", json={"items": gold})
        return response.status_code == 200 and all(r["ok"] for r in response.json()["results"])

    wait_for(set_gold, "review to take the gold key")
    queue_url = f"{annotation}/v1/projects/{project_id}/queue"
    wait_for(
        lambda: (q := client.get(queue_url).json())["open"] == REGULAR and q["gold"] == GOLD,
        "every task queued and every gold item marked",
    )

    taken: dict[str, list[dict[str, Any]]] = {"alice": [], "bob": [], "carol": []}
    for annotator in taken:
        while (task := api.next_task(project_id, annotator)) is not None:
            taken[annotator].append(task)
            right = truth[task["text"]]
            # carol always picks the class after the right one
            answer = CLASSES[(CLASSES.index(right) + 1) % 3] if annotator == "carol" else right
            response = client.post(
                f"{annotation}/v1/tasks/{task['task_id']}/annotations",
                json={"annotator": annotator, "labels": [{"classification": {"label": answer}}]},
            )
            assert response.status_code == 201, response.text

    gold_ids = {g["item_id"] for g in gold}
    served = {}
    for annotator, tasks in taken.items():
        served[annotator] = sum(t["item_id"] in gold_ids for t in tasks)
        assert len(tasks) - served[annotator] == REGULAR  # overlap 3: everyone labels every item
        # A gold task is due while fewer than a fifth of the tasks taken (counting the next
        # one) were gold: 15 among the first 75, and one more on the 76th.
        assert served[annotator] == 16, annotator
        assert len({t["item_id"] for t in tasks}) == len(tasks)  # no item twice
        # Gold tasks look like any other.
        assert {tuple(sorted(t)) for t in tasks} == {tuple(sorted(tasks[0]))}

    wait_for(lambda: client.get(queue_url).json()["completed"] == REGULAR, "every item completed")
    report_url = f"{review}/v1/projects/{project_id}/reports/annotators"
    wait_for(
        lambda: (
            sum(r["annotations"] for r in client.get(report_url).json()["annotators"])
            == 3 * REGULAR + sum(served.values())
        ),
        "every annotation scored",
    )
    rows = {r["annotator"]: r for r in client.get(report_url).json()["annotators"]}
    assert {a: (r["gold_answers"], r["gold_accuracy"]) for a, r in rows.items()} == {
        "alice": (16, 1.0),
        "bob": (16, 1.0),
        "carol": (16, 0.0),
    }
    assert {a for a, r in rows.items() if r["flagged"]} == {"carol"}
    assert (rows["alice"]["accuracy"], rows["carol"]["accuracy"]) == (1.0, 0.0)
    assert client.get(queue_url).json()["gold"] == GOLD  # gold tasks never complete
