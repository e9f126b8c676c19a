"""`labelmesh import s3` against the running services and a real S3 server
(moto's): objects by reference and by copy, a second sync that reads only what
is new, mirrored deletions, and a bucket's event notifications."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import httpx
import pytest

from labelmesh.devstack.services import ServiceAddress
from labelmesh.ingest.domain import item_id_for
from labelmesh.testing.exports import png
from labelmesh.testing.s3_buckets import (
    ACCESS_KEY,
    SECRET_KEY,
    customer_bucket,
    delete_objects,
    put_objects,
)
from labelmesh.testing.services import wait_for

from .cli_runner import labelmesh, last_json
from .rest_api import RestApi
from .test_browse import listed

pytestmark = pytest.mark.e2e

EXIT_PARTIAL = 3


def item_of(project_id: str, content: bytes) -> str:
    """The id ingest gives this content in this project."""
    return item_id_for(project_id, hashlib.sha256(content).hexdigest())


def ready_project(api: RestApi) -> str:
    project_id: str = api.new_text_project(name=f"bucket {uuid.uuid4().hex[:6]}", classes=["cat"])[
        "project_id"
    ]
    api.upload_texts(project_id, ["ingest knows the project"])
    return project_id


def import_s3(
    env: dict[str, str], project_id: str, uri: str, endpoint: str, *options: str
) -> tuple[int, dict[str, Any]]:
    keys = {"LABELMESH_S3_ACCESS_KEY_ID": ACCESS_KEY, "LABELMESH_S3_SECRET_ACCESS_KEY": SECRET_KEY}
    done = labelmesh(
        {**env, **keys},
        "--json",
        "import",
        "s3",
        project_id,
        uri,
        "--endpoint",
        endpoint,
        "--insecure",
        *options,
    )
    assert done.returncode in (0, 1, EXIT_PARTIAL), done.stderr
    bucket: dict[str, Any] = last_json(done.stdout)
    return done.returncode, bucket


def test_a_bucket_imported_by_reference_is_read_once_and_its_media_stays_there(
    env: dict[str, str], api: RestApi, stack: dict[str, ServiceAddress], moto_endpoint: str
) -> None:
    project_id = ready_project(api)
    name = f"photos-{uuid.uuid4().hex[:8]}"
    customer_bucket(moto_endpoint, name)
    cat, dog = png(8, 6), png(7, 5)
    note = b"a note in the bucket"
    put_objects(
        name,
        [
            ("2024/cat.png", cat),
            ("2024/dog.png", dog),
            ("2024/note.txt", note),
            ("2024/blob.bin", b"\x00\x01\x02binary"),
            ("other/skip.png", png(3, 3)),
        ],
    )

    code, bucket = import_s3(env, project_id, f"s3://{name}/2024/", moto_endpoint)

    assert code == EXIT_PARTIAL, "one object is of no supported type"
    assert _counts(bucket) == {"listed": 4, "read": 4, "stored": 3, "failed": 1}
    assert [f["key"] for f in bucket["failures"]] == ["2024/blob.bin"]
    ingest = stack["ingest"].rest
    cat_id = item_of(project_id, cat)
    item = api.client.get(f"{ingest}/v1/items/{cat_id}").json()["item"]
    assert (item["source"], item["source_uri"]) == ("bucket", f"s3://{name}/2024/cat.png")
    media = api.client.get(f"{ingest}/v1/items/{cat_id}/media")
    assert media.status_code == 307, media.text
    assert httpx.get(media.headers["location"]).content == cat
    text = api.client.get(f"{ingest}/v1/items/{item_of(project_id, note)}/media")
    assert text.status_code == 200 and text.content == note

    bird = png(9, 4)
    put_objects(name, [("2024/zebra.png", bird)])
    code, again = import_s3(env, project_id, f"s3://{name}/2024/", moto_endpoint)
    assert code == 0
    assert _counts(again) == {"listed": 1, "read": 1, "stored": 1, "failed": 0}
    listed = labelmesh(env, "--json", "buckets", project_id)
    assert listed.returncode == 0, listed.stderr
    (shown,) = [line for line in listed.stdout.splitlines() if line.strip()]
    assert '"SYNC_STATE_SUCCEEDED"' in shown and bucket["bucket_id"] in shown


def test_a_copied_bucket_mirrors_deletions_and_takes_event_notifications(
    env: dict[str, str], api: RestApi, stack: dict[str, ServiceAddress], moto_endpoint: str
) -> None:
    project_id = ready_project(api)
    name = f"copies-{uuid.uuid4().hex[:8]}"
    customer_bucket(moto_endpoint, name)
    kept, gone = png(6, 6), png(5, 5)
    put_objects(name, [("kept.png", kept), ("gone.png", gone)])
    uri = f"s3://{name}/"
    options = ("--mode", "copy", "--mirror-deletions")
    code, bucket = import_s3(env, project_id, uri, moto_endpoint, *options)
    assert code == 0 and _counts(bucket)["stored"] == 2
    ingest = stack["ingest"].rest
    media = api.client.get(f"{ingest}/v1/items/{item_of(project_id, kept)}/media")
    assert (media.status_code, media.content) == (200, kept), "copied media is served by ingest"

    delete_objects(name, ["gone.png"])
    code, full = import_s3(env, project_id, uri, moto_endpoint, *options, "--full")
    assert code == 0 and _counts(full)["read"] == 0
    assert int(full["counts"]["deleted"]) == 1
    assert api.client.get(f"{ingest}/v1/items/{item_of(project_id, gone)}").status_code == 404
    assert api.client.get(f"{ingest}/v1/items/{item_of(project_id, kept)}").status_code == 200

    def browsed_without_the_deleted_item() -> bool:
        found = {i["item_id"] for i in listed(api, project_id, source="bucket")[0]}
        return found == {item_of(project_id, kept)}

    wait_for(browsed_without_the_deleted_item, "the dataset service to hear of the deletion")

    arrived = png(4, 7)
    put_objects(name, [("arrived.png", arrived)])
    notification = {
        "Records": [
            {
                "eventName": "s3:ObjectCreated:Put",
                "s3": {"bucket": {"name": name}, "object": {"key": "arrived.png"}},
            }
        ]
    }
    answer = api.client.post(f"{ingest}/v1/buckets/{bucket['bucket_id']}/events", json=notification)
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["results"]
    assert result["item_id"] == item_of(project_id, arrived)
    assert api.client.get(f"{ingest}/v1/items/{result['item_id']}").status_code == 200


def _counts(bucket: dict[str, Any]) -> dict[str, int]:
    counts = bucket["counts"]
    return {name: int(counts.get(name, 0)) for name in ("listed", "read", "stored", "failed")}
