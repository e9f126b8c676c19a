"""Dataset versions of labels the running services accepted: over REST and
gRPC, with lineage back to the audit log, diffs, and refused filters."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import grpc
import pyarrow.parquet as pq
import pytest
from google.protobuf import json_format
from PIL import Image
from pycocotools.coco import COCO
from skimage.data import astronaut

from labelmesh.devstack.keys import StackKeys
from labelmesh.testing.services import wait_for
from labelmesh.v1 import dataset_service_pb2 as pb
from labelmesh.v1 import dataset_service_pb2_grpc as pb_grpc

from .rest_api import RestApi

pytestmark = pytest.mark.e2e


def version_of(api: RestApi, project_id: str, items: int, **body: Any) -> dict[str, Any]:
    """A version once it holds `items` items (the projection follows the events)."""
    url = f"{api.stack['dataset'].rest}/v1/projects/{project_id}/dataset-versions"

    def made() -> dict[str, Any] | None:
        response = api.client.post(url, json={"name": "e2e", **body})
        assert response.status_code in (200, 201), response.text
        version: dict[str, Any] = response.json()["version"]
        return version if int(version["item_count"]) == items else None

    return wait_for(made, f"a version of {items} items")


def test_a_version_traces_each_label_and_diffs_against_the_next(
    api: RestApi, keys: StackKeys
) -> None:
    rest = api.stack["dataset"].rest
    project = api.new_text_project(
        name="d", classes=["sports", "politics"], auto_accept_threshold=0
    )
    project_id = project["project_id"]
    item_ids = api.upload_texts(project_id, ["the match ended 2-1", "parliament voted", "a goal"])
    first = version_of(api, project_id, 3)
    listed = api.client.get(f"{rest}/v1/dataset-versions/{first['version_id']}/items").json()
    items = {item["item_id"]: item for item in listed["items"]}
    assert set(items) == set(item_ids)
    for item_id, item in items.items():
        lineage = item["lineage"]
        assert lineage["audit_chain"] == item_id
        assert lineage["completion_source"] == "COMPLETION_SOURCE_MODEL"
        assert lineage["models"] and item["labels"]
        trail_url = f"{api.stack['audit'].rest}/v1/items/{item_id}/trail"

        def trailed(
            url: str = trail_url, completion: str = lineage["completion_event_id"]
        ) -> set[str] | None:
            # The audit service records events as it consumes them, a little after.
            entries = api.client.get(url).json().get("entries", [])
            seen = {entry["event_id"] for entry in entries}
            return seen if completion in seen else None

        wait_for(trailed, "the audit trail to hold the item's completion")

    split = {"ratios": {"train": 0.5, "test": 0.5}, "seed": "7"}
    halves = version_of(api, project_id, 3, split=split)
    assert sum(int(n) for n in halves["split_counts"].values()) == 3
    split_items = api.client.get(f"{rest}/v1/dataset-versions/{halves['version_id']}/items")
    assert {item["split"] for item in split_items.json()["items"]} <= {"train", "test"}
    assert [b["split"] for b in halves["balance"]] == ["test", "train"]
    chart = api.client.get(f"{rest}/v1/dataset-versions/{halves['version_id']}/balance.png")
    assert chart.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(chart.content)).format == "PNG"
    weighted = api.client.post(
        f"{rest}/v1/projects/{project_id}/dataset-versions",
        json={
            "derived_from": halves["version_id"],
            "rebalance": {"method": "REBALANCE_METHOD_WEIGHTS"},
        },
    )
    assert weighted.status_code == 201, weighted.text
    derived = weighted.json()["version"]
    assert derived["derived_from"] == halves["version_id"]
    derived_items = api.client.get(f"{rest}/v1/dataset-versions/{derived['version_id']}/items")
    assert all(item["sampling_weight"] > 0 for item in derived_items.json()["items"])

    exported = api.client.get(f"{rest}/v1/dataset-versions/{first['version_id']}/export.jsonl")
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    lines = [
        json_format.ParseDict(json.loads(line), pb.DatasetItem())
        for line in exported.text.splitlines()
    ]
    assert {item.item_id for item in lines} == set(item_ids)

    [added] = api.upload_texts(project_id, ["the cup final"])
    second = version_of(api, project_id, 4)
    diff = api.client.get(
        f"{rest}/v1/dataset-versions/{first['version_id']}/diff/{second['version_id']}"
    ).json()
    assert [(c["item_id"], c["kind"]) for c in diff["changes"]] == [
        (added, "ITEM_CHANGE_KIND_ADDED")
    ]
    assert diff["summary"]["items_added"] == "1"

    with grpc.insecure_channel(api.stack["dataset"].grpc) as channel:
        stub = pb_grpc.DatasetServiceStub(channel)
        request = pb.DiffDatasetVersionsRequest(
            from_version_id=second["version_id"], to_version_id=first["version_id"]
        )
        streamed = list(
            stub.DiffDatasetVersions(
                request, metadata=[("authorization", f"Bearer {keys.admin_key}")]
            )
        )
        whole = stub.StreamDatasetVersion(
            pb.StreamDatasetVersionRequest(version_id=second["version_id"]),
            metadata=[("authorization", f"Bearer {keys.admin_key}")],
        )
        assert sorted(i.item_id for m in whole for i in m.items) == sorted([*item_ids, added])
    assert streamed[-1].summary.items_removed == 1
    assert [c.item_id for m in streamed for c in m.changes] == [added]

    entries = api.client.get(
        f"{api.stack['audit'].rest}/v1/audit/entries",
        params={"project_id": project_id, "event_type": "DatasetVersionCreated"},
    )
    made = {e["event_id"] for e in entries.json()["entries"]}
    assert len(made) >= 2


def test_a_filter_naming_an_unknown_class_is_refused_by_field(api: RestApi) -> None:
    project = api.new_text_project(name="d2", classes=["a"])
    url = f"{api.stack['dataset'].rest}/v1/projects/{project['project_id']}/dataset-versions"

    def refused() -> dict[str, Any] | None:
        response = api.client.post(url, json={"filter": {"classes": ["a", "zebra"]}})
        return response.json() if response.status_code == 422 else None

    detail = wait_for(refused, "the dataset service to know the project")["detail"][0]
    assert detail["field"] == "filter.classes[1]"
    assert "not a class of the project" in detail["msg"]


def finished_export(api: RestApi, version_id: str, **body: Any) -> dict[str, Any]:
    """Ask for an export and wait until its job has written the archive."""
    rest = api.stack["dataset"].rest
    asked = api.client.post(f"{rest}/v1/dataset-versions/{version_id}/exports", json=body)
    assert asked.status_code == 202, asked.text
    job_id = asked.json()["job"]["job_id"]

    def done() -> dict[str, Any] | None:
        job: dict[str, Any] = api.client.get(f"{rest}/v1/exports/{job_id}").json()["job"]
        assert job["state"] != "EXPORT_STATE_FAILED", job
        return job if job["state"] == "EXPORT_STATE_SUCCEEDED" else None

    return wait_for(done, "the export to finish")


def test_an_export_job_writes_an_archive_that_downloads_in_resumable_parts(
    api: RestApi, keys: StackKeys, tmp_path: Path
) -> None:
    rest = api.stack["dataset"].rest
    project = api.new_text_project(
        name="x", classes=["sports", "politics"], auto_accept_threshold=0
    )
    project_id = project["project_id"]
    texts = [f"the match {n} ended in a goal" for n in range(6)]
    item_ids = api.upload_texts(project_id, texts)
    version = version_of(api, project_id, len(texts))
    job = finished_export(api, version["version_id"], format="EXPORT_FORMAT_PARQUET")
    assert job["items_done"] == str(len(texts)) and job["filename"].endswith("-parquet.zip")
    download = f"{rest}/v1/exports/{job['job_id']}/download"

    whole = api.client.get(download)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    assert hashlib.sha256(whole.content).hexdigest() == job["sha256"]
    size = int(job["size_bytes"])
    assert len(whole.content) == size
    # A download cut off after 100 bytes resumes from there.
    rest_of_it = api.client.get(download, headers={"Range": "bytes=100-"})
    assert rest_of_it.status_code == 206
    assert rest_of_it.headers["content-range"] == f"bytes 100-{size - 1}/{size}"
    assert whole.content[:100] + rest_of_it.content == whole.content
    tail = api.client.get(download, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    past = api.client.get(download, headers={"Range": f"bytes={size}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{size}"

    archive = tmp_path / "export.zip"
    archive.write_bytes(whole.content)
    with zipfile.ZipFile(archive) as zipped:
        [name] = zipped.namelist()
        table = pq.read_table(io.BytesIO(zipped.read(name)))
    assert sorted(table.column("item_id").to_pylist()) == sorted(item_ids)
    assert all(labels for labels in table.column("labels").to_pylist())

    again = api.client.post(
        f"{rest}/v1/dataset-versions/{version['version_id']}/exports",
        json={"format": "EXPORT_FORMAT_PARQUET"},
    )
    assert again.status_code == 200 and again.json()["job"]["job_id"] == job["job_id"]

    with grpc.insecure_channel(api.stack["dataset"].grpc) as channel:
        stub = pb_grpc.DatasetServiceStub(channel)
        metadata = [("authorization", f"Bearer {keys.admin_key}")]
        resumed = stub.DownloadExport(
            pb.DownloadExportRequest(job_id=job["job_id"], offset=100), metadata=metadata
        )
        assert b"".join(m.data for m in resumed) == whole.content[100:]
        refused = api.client.post(
            f"{rest}/v1/dataset-versions/{version['version_id']}/exports",
            json={"format": "EXPORT_FORMAT_COCO"},
        )
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["field"] == "format"


def test_an_image_exports_as_coco_with_the_size_ingest_read_from_it(
    api: RestApi, tmp_path: Path
) -> None:
    created = api.client.post(
        f"{api.stack['annotation'].rest}/v1/projects",
        json={
            "name": "faces",
            "data_type": "IMAGE",
            "classes": ["face"],
            "models": [{"model_id": "mediapipe-face-detection"}],
            "auto_annotation": {"default_min_confidence": 0.3, "floor": 0.3},
        },
    )
    assert created.status_code == 201, created.text
    project_id = created.json()["project"]["project_id"]
    picture = io.BytesIO()
    Image.fromarray(astronaut()[:300, :400]).save(picture, format="PNG")

    def upload() -> str | None:
        response = api.client.post(
            f"{api.stack['ingest'].rest}/v1/projects/{project_id}/files",
            files=[("files", ("astronaut.png", picture.getvalue(), "image/png"))],
        )
        return response.json()["results"][0]["item_id"] if response.status_code == 200 else None

    item_id = wait_for(upload, "ingest to know the project")
    version = version_of(api, project_id, 1)
    job = finished_export(api, version["version_id"], format="EXPORT_FORMAT_COCO")
    archive = tmp_path / "coco.zip"
    archive.write_bytes(
        api.client.get(f"{api.stack['dataset'].rest}/v1/exports/{job['job_id']}/download").content
    )
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(tmp_path / "coco")
    coco = COCO(str(tmp_path / "coco" / "annotations" / "instances_all.json"))
    [image] = coco.dataset["images"]
    assert (image["labelmesh_item_id"], image["width"], image["height"]) == (item_id, 400, 300)
    [face] = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
    assert coco.loadCats(face["category_id"])[0]["name"] == "face"
    x, y, width, height = face["bbox"]
    assert 0 <= x < x + width <= 400 and 0 <= y < y + height <= 300
