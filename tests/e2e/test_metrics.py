"""Every service's /metrics parses and reports the traffic it has seen."""

from __future__ import annotations

import contextlib

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from labelmesh.devstack.services import SERVICE_NAMES, ServiceAddress
from labelmesh.testing.services import wait_for

from .rest_api import RestApi

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_metrics_endpoint_parses_with_the_shared_families(
    stack: dict[str, ServiceAddress], client: httpx.Client, name: str
) -> None:
    response = client.get(stack[name].metrics)
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    for family in (
        "events_consumed",
        "events_produced",
        "handler_duration_seconds",
        "consumer_lag_messages",
        "dead_letters",
    ):
        assert f"labelmesh_{name}_{family}" in families, family
    assert client.get(f"{stack[name].rest}/healthz").json() == {"status": "ok"}
    assert client.get(f"{stack[name].rest}/readyz").json() == {"ready": True, "failures": {}}


def test_metrics_count_an_item_through_the_path(api: RestApi) -> None:
    stack, client = api.stack, api.client
    project = api.new_text_project(name="m", classes=["a", "b"], auto_accept_threshold=0)
    [item_id] = api.upload_texts(project["project_id"], ["metrics"])
    trail_url = f"{stack['audit'].rest}/v1/items/{item_id}/trail"
    annotations_url = f"{stack['annotation'].rest}/v1/items/{item_id}/annotations"
    wait_for(
        lambda: (
            client.get(trail_url).status_code == 200
            and len(client.get(trail_url).json()["entries"]) == 5
            and client.get(annotations_url).json()["annotations"]
        ),
        "the item to be completed and its model annotation stored",
    )

    expectations = [
        ("ingest", "labelmesh_ingest_items_total", {"outcome": "stored"}),
        ("ingest", "labelmesh_ingest_events_produced_total", {}),
        ("inference", "labelmesh_inference_events_consumed_total", {"outcome": "ok"}),
        ("inference", "labelmesh_inference_batch_size_items_count", {}),
        ("inference", "labelmesh_inference_predictions_total", {"outcome": "auto_accepted"}),
        ("annotation", "labelmesh_annotation_annotations_total", {"source": "model"}),
        ("review", "labelmesh_review_decisions_total", {"stage": "auto-annotation"}),
        ("audit", "labelmesh_audit_entries_total", {}),
        ("dataset", "labelmesh_dataset_projected_events_total", {}),
    ]

    def zero_counts() -> list[tuple[str, str, dict[str, str]]]:
        samples: dict[tuple[str, str], list[tuple[dict[str, str], float]]] = {}
        for name in SERVICE_NAMES:
            for family in text_string_to_metric_families(client.get(stack[name].metrics).text):
                for s in family.samples:
                    samples.setdefault((name, s.name), []).append((s.labels, s.value))
        return [
            (service, metric, labels)
            for service, metric, labels in expectations
            if not any(
                value >= 1 and labels.items() <= sample_labels.items()
                for sample_labels, value in samples.get((service, metric), [])
            )
        ]

    # Counters move just after each commit, so give them a moment to catch up;
    # the assertion then names any metric that never moved.
    with contextlib.suppress(AssertionError):
        wait_for(lambda: not zero_counts(), "every service to count the item", within=10)
    assert zero_counts() == []
