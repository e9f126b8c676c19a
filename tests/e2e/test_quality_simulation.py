"""The quality pipeline against simulated annotators whose error rates are known.

2,000 text items, each labelled by all five annotators (overlap 5), with hidden
gold items mixed into each annotator's stream at the policy's ratio of one in
ten. The annotators err at 0, 5, 10, 20 and 40 percent, choosing a wrong class
uniformly. The review service must report each annotator's accuracy within 3
points of the truth, reach a consensus that is right on at least 97 % of the
items, and flag the 40 % annotator and no one else.

The review service runs as its own process against the real broker and
database; the simulation plays the annotation service and publishes the
AnnotationSubmitted events its annotators would cause, about 11,000 of them.
(Driving them through the annotation service's API takes about nine minutes
here, as the embedded database serves about 20 submissions a second; the
annotation service's overlap and gold mixing have tests of their own, and
test_review_flow.py runs the two services together.) Everything after the
events, the gold key, consensus, scoring, flagging and the reports, is real.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from labelmesh.core.bus import EventPublisher, ensure_topics
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.core.metrics import BusMetrics
from labelmesh.core.topics import Topics
from labelmesh.devstack.services import ServiceAddress, admin_key_file, running_services, stack_env
from labelmesh.testing.services import wait_for
from labelmesh.v1.events_pb2 import (
    AnnotationSubmitted,
    DataType,
    Envelope,
    ProjectCreated,
    ProjectSpec,
    ReviewPolicy,
)
from labelmesh.v1.geometry_pb2 import Classification, Label

pytestmark = pytest.mark.e2e

PREFIX = "simulation"
ITEMS = 2_000
GOLD_ITEMS = 250  # more than any annotator needs at one gold task in ten
GOLD_EVERY = 10
TASKS_EACH = ITEMS + ITEMS // (GOLD_EVERY - 1)  # every item, and one gold task in ten
CLASSES = ["alpha", "bravo", "charlie", "delta", "echo"]
ERROR_RATES = {"ann-0": 0.0, "ann-5": 0.05, "ann-10": 0.10, "ann-20": 0.20, "ann-40": 0.40}
CHUNK = 1_000


@pytest.fixture(scope="module")
def simulation_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("simulation")


@pytest.fixture(scope="module")
def review_service(
    kafka_bootstrap: str, mongo_uri: str, simulation_root: Path
) -> Iterator[ServiceAddress]:
    root = simulation_root
    env = {
        **stack_env(kafka_bootstrap, mongo_uri, PREFIX, root),
        "LABELMESH_OUTBOX_POLL_SECONDS": "0.05",
        "LABELMESH_LOG_LEVEL": "WARNING",
    }
    with running_services(env, root / "logs", names=["access", "review"]) as addresses:
        yield addresses["review"]


class Annotator:
    """Works through the items in an order of their own and errs on exactly their rate of
    tasks, chosen at random (so the truth to recover is exact, not just expected)."""

    def __init__(self, name: str, error_rate: float, seed: int, tasks: int) -> None:
        self.name = name
        self.rng = random.Random(seed)
        self.mistakes = set(self.rng.sample(range(tasks), round(error_rate * tasks)))
        self.done = 0

    def label(self, truth: str) -> str:
        wrong = self.done in self.mistakes
        self.done += 1
        return self.rng.choice([c for c in CLASSES if c != truth]) if wrong else truth

    def stream(self, items: list[str], gold: list[str]) -> Iterator[tuple[str, bool]]:
        """(item id, is gold) in the order this annotator's queue would hand them out."""
        regular = self.rng.sample(items, len(items))
        golds = iter(self.rng.sample(gold, len(gold)))
        for position, item_id in enumerate(regular, start=1):
            yield item_id, False
            if position % (GOLD_EVERY - 1) == 0:
                yield next(golds), True


def submitted(project_id: str, item_id: str, annotator: str, label: str) -> Envelope:
    return new_envelope(
        AnnotationSubmitted(
            annotation_id=str(uuid.uuid4()),
            task_id=f"task-{item_id}",
            annotator=annotator,
            labels=[Label(classification=Classification(label=label), confidence=1.0)],
            overlap=len(ERROR_RATES),
            seconds_spent=20.0,
        ),
        producer="annotation",
        actor=user_actor(annotator),
        project_id=project_id,
        item_id=item_id,
    )


def submissions_taken_in(client: httpx.Client, metrics_url: str) -> float:
    """How many AnnotationSubmitted events the review service has handled."""
    for family in text_string_to_metric_families(client.get(metrics_url).text):
        for sample in family.samples:
            if sample.name == "labelmesh_review_events_consumed_total" and sample.labels == {
                "event_type": "labelmesh.v1.AnnotationSubmitted",
                "outcome": "ok",
            }:
                return sample.value
    return 0.0


# About 11,000 events at the embedded database's pace of a few milliseconds a
# write: minutes, not the suite's default five-minute limit per test.
@pytest.mark.timeout(600)
def test_reported_quality_matches_the_simulated_annotators(
    review_service: ServiceAddress, kafka_bootstrap: str, simulation_root: Path
) -> None:
    review = review_service.rest
    admin = {"Authorization": f"Bearer {admin_key_file(simulation_root).read_text().strip()}"}
    project = ProjectSpec(
        project_id=str(uuid.uuid4()),
        name="simulation",
        data_type=DataType.DATA_TYPE_TEXT,
        classes=CLASSES,
        review_policy=ReviewPolicy(
            version=1,
            overlap=len(ERROR_RATES),
            gold_ratio=1 / GOLD_EVERY,
            flag_below_accuracy=0.7,
            min_gold_answers=20,
        ),
    )
    truth = {f"item-{i}": CLASSES[i % len(CLASSES)] for i in range(ITEMS)}
    gold = {f"gold-{i}": CLASSES[i % len(CLASSES)] for i in range(GOLD_ITEMS)}
    events = []
    for index, (name, rate) in enumerate(ERROR_RATES.items()):
        annotator = Annotator(name, rate, seed=index, tasks=TASKS_EACH)
        for item_id, is_gold in annotator.stream(list(truth), list(gold)):
            answer = annotator.label(gold[item_id] if is_gold else truth[item_id])
            events.append((annotator.done, submitted(project.project_id, item_id, name, answer)))
    # Annotators work side by side: interleave their streams by how far along they are.
    stream = [envelope for _, envelope in sorted(events, key=lambda pair: pair[0])]

    asyncio.run(_publish_project(kafka_bootstrap, project))
    with httpx.Client(timeout=60, headers=admin) as client:
        _set_gold(client, review, project.project_id, gold)
        asyncio.run(_publish(kafka_bootstrap, stream))

        # Progress comes from the metrics, which cost the database nothing: a
        # report polled meanwhile would read every score again and again.
        def all_taken_in() -> bool:
            return submissions_taken_in(client, review_service.metrics) >= len(stream)

        wait_for(all_taken_in, "review to take in every annotation", within=480)
        report = client.get(f"{review}/v1/projects/{project.project_id}/reports/annotators").json()[
            "annotators"
        ]
        assert sum(row["annotations"] for row in report) == len(stream)
        finals = _final_labels(client, review, list(truth))
        agreement = client.get(
            f"{review}/v1/projects/{project.project_id}/reports/agreement"
        ).json()

    by_annotator = {row["annotator"]: row for row in report}
    for name, rate in ERROR_RATES.items():
        row = by_annotator[name]
        assert abs(row["accuracy"] - (1 - rate)) <= 0.03, (name, row)
        assert row["gold_answers"] == TASKS_EACH - ITEMS, (name, row)
        # Gold alone rests on a tenth of the work: looser, but still the truth.
        assert abs(row["gold_accuracy"] - (1 - rate)) <= 0.1, (name, row)
    assert {name for name, row in by_annotator.items() if row["flagged"]} == {"ann-40"}

    correct = sum(finals[item_id] == label for item_id, label in truth.items())
    assert correct / ITEMS >= 0.97, correct
    assert agreement["items"] == ITEMS
    assert 0.4 < agreement["fleiss_kappa"] < 0.9  # real but imperfect agreement


async def _publisher(bootstrap: str) -> EventPublisher:
    topics = Topics(PREFIX)
    await ensure_topics(bootstrap, topics.all(), 3)
    publisher = EventPublisher(bootstrap, topics, BusMetrics("simulation", CollectorRegistry()))
    await publisher.start()
    return publisher


async def _publish_project(bootstrap: str, project: ProjectSpec) -> None:
    publisher = await _publisher(bootstrap)
    created = new_envelope(
        ProjectCreated(project=project),
        producer="annotation",
        actor=user_actor("lead"),
        project_id=project.project_id,
    )
    await publisher.publish([created])
    await publisher.stop()


async def _publish(bootstrap: str, envelopes: list[Envelope]) -> None:
    publisher = await _publisher(bootstrap)
    for offset in range(0, len(envelopes), CHUNK):
        await publisher.publish(envelopes[offset : offset + CHUNK])
    await publisher.stop()


def _set_gold(client: httpx.Client, review: str, project_id: str, gold: dict[str, str]) -> None:
    body = {
        "items": [
            {"item_id": item_id, "labels": [{"classification": {"label": label}}]}
            for item_id, label in gold.items()
        ]
    }

    def attempt() -> bool:
        response = client.post(f"{review}/v1/projects/{project_id}/gold", json=body)
        if response.status_code == 404:  # the project has not reached review yet
            return False
        if response.status_code == 504:  # a busy machine; setting gold again is harmless
            return False
        assert response.status_code == 200, response.text
        assert all(r["ok"] for r in response.json()["results"]), response.text
        return True

    wait_for(attempt, "review to know the project")


def _final_labels(client: httpx.Client, review: str, item_ids: list[str]) -> dict[str, str]:
    finals = {}
    for item_id in item_ids:
        labels = client.get(f"{review}/v1/items/{item_id}/reviews").json()["final_labels"]
        finals[item_id] = labels[0]["classification"]["label"] if labels else ""
    return finals
