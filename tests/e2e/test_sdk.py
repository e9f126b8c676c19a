"""The Python SDK against the running services: uploads with a status per
record, a resumable log and retries, and the resources a script uses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labelmesh.devstack.keys import StackKeys
from labelmesh.devstack.services import ServiceAddress
from labelmesh.sdk import Client, Endpoints, InvalidRequest, NotFound, UploadRecord
from labelmesh.sdk.endpoints import SERVICES
from labelmesh.sdk.models import AuditEntry, DatasetVersion
from labelmesh.sdk.upload_log import latest, read_log
from labelmesh.testing.exports import png
from labelmesh.testing.faults import faulty_proxy
from labelmesh.testing.services import wait_for

pytestmark = pytest.mark.e2e


def endpoints_of(stack: dict[str, ServiceAddress], **overrides: str) -> Endpoints:
    return Endpoints({name: overrides.get(name, stack[name].rest) for name in SERVICES})


@pytest.fixture
def client(stack: dict[str, ServiceAddress], keys: StackKeys) -> Iterator[Client]:
    with Client(endpoints_of(stack), keys.admin_key) as lm:
        yield lm


def new_project(client: Client, data_type: str, classes: list[str]) -> str:
    """A new project, once ingest has heard of it."""
    project = client.projects.create(f"sdk {data_type.lower()}", data_type, classes)

    def known() -> bool:
        try:
            client.items.upload_texts(project.project_id, ["ready?"])
        except NotFound:
            return False
        return True

    wait_for(known, "ingest to know the project")
    return str(project.project_id)


def images(folder: Path, count: int, first: int = 0) -> list[Path]:
    """`count` distinct PNGs, `img-<n>.png` for n from `first`, each `16 + n` pixels wide."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(first, first + count):
        path = folder / f"img-{index}.png"
        path.write_bytes(png(16 + index, 12, seed=index))
        paths.append(path)
    return paths


def test_a_folder_uploads_with_a_status_per_file_and_resumes_from_its_log(
    client: Client, tmp_path: Path
) -> None:
    project = new_project(client, "IMAGE", ["cat", "dog"])
    root = tmp_path / "photos"
    images(root / "a", 3)
    images(root / "b", 2, first=3)
    (root / "b" / "copy-of-img-0.png").write_bytes((root / "a" / "img-0.png").read_bytes())
    (root / "b" / "empty.png").write_bytes(b"")
    (root / "notes.csv").write_text("not an image\n")
    log = tmp_path / "upload.jsonl"

    report = client.items.upload_folder(project, root, ["image"], log=log, batch_size=2)

    entries = latest(log)
    statuses = {key: entry.status for key, entry in entries.items()}
    # Batches go in parallel, so either copy of the same image may be the one stored.
    copies = ("a/img-0.png", "b/copy-of-img-0.png")
    assert sorted(statuses.pop(key) for key in copies) == ["duplicate", "stored"]
    assert statuses == {
        "a/img-1.png": "stored",
        "a/img-2.png": "stored",
        "b/img-3.png": "stored",
        "b/img-4.png": "stored",
        "b/empty.png": "failed",
    }
    assert (report.stored, report.duplicates, report.failed) == (5, 1, 1)
    assert entries[copies[0]].item_id == entries[copies[1]].item_id
    assert "empty" in entries["b/empty.png"].error
    item = client.items.get(entries["a/img-1.png"].item_id)
    assert (item.width, item.height, item.metadata["path"]) == (17, 12, "a/img-1.png")

    again = client.items.upload_folder(project, root, ["image"], log=log)

    assert (again.skipped, again.stored, again.duplicates, again.failed) == (6, 0, 0, 1)


def test_failures_injected_at_the_server_are_retried_from_the_log_with_nothing_lost_or_doubled(
    stack: dict[str, ServiceAddress], keys: StackKeys, client: Client, tmp_path: Path
) -> None:
    project = new_project(client, "TEXT", ["a", "b"])
    texts = [f"retried text {index}" for index in range(400)]
    records = [UploadRecord(f"t{index}", text=text) for index, text in enumerate(texts)]
    log = tmp_path / "upload.jsonl"
    with faulty_proxy(stack["ingest"].rest, failure_rate=0.3, seed=7) as (url, counts):
        faulty = endpoints_of(stack, ingest=url)
        with Client(faulty, keys.admin_key) as flaky:
            first = flaky.items.upload_records(project, records, log=log, batch_size=20)
            assert first.failed == 20 * counts.failed
            assert counts.failed_before and counts.failed_after

    retried = client.items.retry_from_log(project, log)

    assert retried.failed == 0
    # What the service stored before its answer was lost comes back as a duplicate.
    assert retried.duplicates == 20 * counts.failed_after
    entries = latest(log)
    assert {entry.status for entry in entries.values()} <= {"stored", "duplicate"}
    assert len(entries) == len(texts)
    item_ids = {entry.item_id for entry in entries.values()}
    assert len(item_ids) == len(texts)
    assert client.items.media(entries["t399"].item_id) == b"retried text 399"
    assert sum(1 for _ in read_log(log)) == len(texts) + 20 * counts.failed


def test_records_carry_metadata_and_urls_are_fetched_by_the_server(
    client: Client, tmp_path: Path
) -> None:
    project = new_project(client, "TEXT", ["a"])
    report = client.items.upload_records(
        project,
        [
            {"key": "one", "text": "first", "metadata": {"lang": "en"}},
            {"key": "two", "data": b"second as bytes", "filename": "two.txt"},
        ],
        log=tmp_path / "log.jsonl",
    )
    assert (report.stored, report.failed) == (2, 0)
    entries = latest(tmp_path / "log.jsonl")
    assert client.items.get(entries["one"].item_id).metadata == {"lang": "en"}
    assert client.items.media(entries["two"].item_id) == b"second as bytes"


def test_a_script_labels_reviews_and_exports_through_the_sdk(
    client: Client, tmp_path: Path
) -> None:
    project = new_project(client, "TEXT", ["positive", "negative"])
    assert client.projects.get(project).classes == ["positive", "negative"]
    results = client.items.upload_texts(project, ["great product", "awful service"])
    assert [r.error for r in results] == [None, None]

    def next_task() -> Any:
        return client.tasks.next(project)

    labelled = 0
    while labelled < 3:  # the probe text and the two uploads
        task = wait_for(next_task, "a task")
        label = {"classification": {"label": "positive"}, "confidence": 1.0}
        annotation_id = client.tasks.submit(task.task_id, [label])
        annotations = client.annotations.of_item(task.item_id)
        assert annotation_id in [a.annotation_id for a in annotations]
        labelled += 1

    def submissions() -> list[AuditEntry] | None:
        entries = client.audit.query(project, event_types=["AnnotationSubmitted"]).items
        return entries if len(entries) == 3 else None

    trail = wait_for(submissions, "the audit log to record every submission")
    assert all(entry.project_id == project for entry in trail)
    assert client.audit.verify(project).intact
    assert "vader-sentiment" in {model.model_id for model in client.models.list()}

    def version_of_every_item() -> DatasetVersion | None:
        version = client.datasets.create(project, f"v{time.monotonic_ns()}")
        return version if version.item_count == 3 else None

    version = wait_for(version_of_every_item, "every item to be accepted")
    assert version.class_counts == {"positive": 3}
    accepted = list(client.items.iterate(project, status="accepted", page_size=2))
    assert len(accepted) == 3 and all(item.classes == ["positive"] for item in accepted)
    found = client.items.list(project, query="awful", label_class="positive")
    assert [item.text for item in found.items] == ["awful service"]
    assert project in [p.project_id for p in client.projects.iterate()]
    assert version.version_id in [v.version_id for v in client.datasets.iterate(project)]
    job = client.exports.start(version.version_id, "EXPORT_FORMAT_JSONL")
    finished = client.exports.wait(job.job_id, poll_seconds=0.1)
    assert finished.state == "EXPORT_STATE_SUCCEEDED"
    archive = client.exports.download(job.job_id, tmp_path / finished.filename)
    assert archive.stat().st_size == finished.size_bytes


def test_a_refused_request_names_each_field_at_fault(client: Client) -> None:
    with pytest.raises(InvalidRequest) as refused:
        client.projects.create("", "TEXT", [])

    assert refused.value.status == 422
    assert "name" in {violation.field for violation in refused.value.violations}
