"""Round trip through Label Studio's format: a project's accepted labels leave
as a Label Studio JSON export and come back into a fresh project with the
SDK's migration, unchanged."""

from __future__ import annotations

import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labelmesh.devstack.keys import StackKeys
from labelmesh.devstack.services import ServiceAddress
from labelmesh.sdk import Client, Endpoints, NotFound
from labelmesh.sdk.endpoints import SERVICES
from labelmesh.sdk.migrate import label_studio
from labelmesh.sdk.models import DatasetVersion, Task
from labelmesh.sdk.upload_log import latest
from labelmesh.testing.exports import png
from labelmesh.testing.services import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(stack: dict[str, ServiceAddress], keys: StackKeys) -> Iterator[Client]:
    endpoints = Endpoints({name: stack[name].rest for name in SERVICES})
    with Client(endpoints, keys.admin_key) as lm:
        yield lm


def image_project(client: Client, name: str) -> str:
    project = client.projects.create(name, "IMAGE", ["cat", "dog"]).project_id

    def known() -> bool:
        try:
            client.items.upload_texts(project, ["ready?"])
        except NotFound:
            return False
        return True

    wait_for(known, "ingest to know the project")
    return str(project)


def labels_for(index: int) -> list[dict[str, Any]]:
    box = {
        "label": "cat" if index else "dog",
        "x": 4.0 + index,
        "y": 6.0,
        "width": 20.0,
        "height": 10.5,
    }
    return [{"bounding_box": box}, {"classification": {"label": "cat"}}]


def comparable(labels: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """Labels as (kind, geometry) with coordinates rounded, in a stable order."""
    made = []
    for label in labels:
        kind = next(k for k in label if k not in ("confidence", "source"))
        geometry = {k: round(v, 6) if isinstance(v, float) else v for k, v in label[kind].items()}
        made.append((kind, sorted(geometry.items())))
    return sorted(made)


def test_labels_exported_as_label_studio_json_import_back_unchanged(
    client: Client, tmp_path: Path
) -> None:
    source = image_project(client, "migration source")
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(3):
        (folder / f"p{index}.png").write_bytes(png(64, 48, seed=index + 40))
    uploaded = client.items.upload_folder(source, folder, ["image"], log=tmp_path / "up.jsonl")
    assert uploaded.stored == 3

    expected: dict[str, list[dict[str, Any]]] = {}
    while len(expected) < 3:
        task: Task = wait_for(lambda: client.tasks.next(source), "an image task")
        if task.data_type != "DATA_TYPE_IMAGE":
            client.tasks.submit(task.task_id, [{"classification": {"label": "cat"}}])
            continue
        name = client.items.get(task.item_id).filename
        labels = labels_for(int(name[1]))
        client.tasks.submit(task.task_id, labels)
        expected[name] = labels

    def every_image_accepted() -> DatasetVersion | None:
        version = client.datasets.create(source, f"v{time.monotonic_ns()}")
        return version if version.item_count == 4 else None

    version = wait_for(every_image_accepted, "every item to be accepted")
    job = client.exports.start(
        version.version_id, "EXPORT_FORMAT_LABEL_STUDIO", "ARCHIVE_FORMAT_ZIP", include_media=True
    )
    job = client.exports.wait(job.job_id, poll_seconds=0.1)
    assert job.state == "EXPORT_STATE_SUCCEEDED", job.error
    archive = client.exports.download(job.job_id, tmp_path / "ls.zip")
    unpacked = tmp_path / "ls"
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(unpacked)

    migration = label_studio.read(unpacked / "tasks.json")

    assert migration.skipped == [] and not migration.unsupported
    images = [r for r in migration.records if r.path is not None]
    assert len(images) == 3
    target = image_project(client, "migration target")
    report = client.items.migrate(target, migration, log=tmp_path / "migrate.jsonl")
    # The target's own "ready?" text is the source's too: it comes back as a duplicate.
    assert (report.stored, report.duplicates, report.failed) == (3, 1, 0)
    for record in images:
        [annotation] = record.annotations
        original = expected[record.metadata["path"]]
        assert comparable(annotation["labels"]) == comparable(original)
    item = client.items.get(latest(tmp_path / "migrate.jsonl")[images[0].key].item_id)
    assert (item.source, item.width, item.height) == ("label-studio", 64, 48)
