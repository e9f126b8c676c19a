"""The ingest REST API on the in-memory twins: uploads with their source and
pre-existing labels, errors naming the field."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from labelmesh.core.api import rest_app
from labelmesh.core.storage import LocalDiskStore
from labelmesh.ingest.api import rest
from labelmesh.ingest.metrics import IngestMetrics
from labelmesh.ingest.usecases import Ingest
from labelmesh.testing.access import StaticAuthenticator, static_signer
from labelmesh.testing.memory import InMemoryProjectDirectory, InMemoryUnitOfWork, MemoryState
from labelmesh.testing.twins.ingest import InMemoryItemRepository, secured_ingest
from labelmesh.v1.events_pb2 import ItemIngested, ProjectSpec

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
CAT = {"classification": {"label": "cat"}}


@pytest.fixture
async def ingest(tmp_path: Path) -> Ingest:
    state = MemoryState()
    uow = InMemoryUnitOfWork(state)
    projects = InMemoryProjectDirectory(state)
    async with uow.begin() as tx:
        await projects.save(tx, ProjectSpec(project_id="p1", classes=["cat"]))
    store = LocalDiskStore(tmp_path / "media")
    await store.ensure_ready()
    metrics = IngestMetrics(CollectorRegistry())
    return Ingest(InMemoryItemRepository(state), projects, store, uow, metrics, 1 << 20)


@pytest.fixture
async def api(ingest: Ingest) -> AsyncIterator[httpx.AsyncClient]:
    callers = StaticAuthenticator({})
    secured = secured_ingest(ingest)
    app = rest_app("ingest", rest.router(secured), CollectorRegistry(), {}, callers)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://ingest",
        event_hooks={"request": [static_signer(callers)]},
    ) as client:
        yield client


def ingested(ingest: Ingest) -> list[ItemIngested]:
    assert isinstance(ingest.uow, InMemoryUnitOfWork)
    return [event.item_ingested for event in ingest.uow.emitted("item_ingested")]


async def test_text_items_bring_their_labels_and_source_into_item_ingested(
    api: httpx.AsyncClient, ingest: Ingest
) -> None:
    annotation = {
        "labels": [CAT],
        "annotator": "alice",
        "created_at": "2025-01-02T03:04:05Z",
        "origin_id": "ls-1",
    }
    prediction = {"labels": [CAT], "score": 0.7, "model_version": "resnet-2"}
    body = {
        "items": [
            {
                "text": "a cat",
                "annotations": [annotation],
                "predictions": [prediction],
                "source": "label-studio",
                "source_uri": "https://ls.example/tasks/1",
            },
            {"text": "plain"},
        ]
    }
    response = await api.post("/v1/projects/p1/items", json=body)
    assert response.status_code == 200, response.text
    first, second = response.json()["results"]
    labelled, plain = ingested(ingest)
    assert (labelled.source, labelled.source_uri) == ("label-studio", "https://ls.example/tasks/1")
    assert [a.annotator for a in labelled.imported_annotations] == ["alice"]
    assert labelled.imported_annotations[0].labels[0].classification.label == "cat"
    assert labelled.imported_annotations[0].created_at.ToJsonString() == "2025-01-02T03:04:05Z"
    assert labelled.imported_predictions[0].score == 0.7
    assert (plain.source, list(plain.imported_annotations)) == ("upload", [])
    item = (await api.get(f"/v1/items/{first['item_id']}")).json()["item"]
    assert (item["source"], item["source_uri"]) == ("label-studio", "https://ls.example/tasks/1")
    assert (await api.get(f"/v1/items/{second['item_id']}")).json()["item"]["source"] == "upload"


async def test_a_bad_label_fails_its_item_alone_naming_it(
    api: httpx.AsyncClient, ingest: Ingest
) -> None:
    bad = {"labels": [CAT, {"bounding_box": {"label": "cat", "width": -1, "height": 2}}]}
    body = {
        "items": [
            {"text": "fine"},
            {"text": "bad label", "annotations": [bad]},
            {"text": "no labels", "annotations": [{"annotator": "bob"}]},
            {"text": "bad source", "source": "Label Studio"},
        ]
    }
    response = await api.post("/v1/projects/p1/items", json=body)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results[0]["item_id"] and "error" not in results[0]
    assert results[1]["error"]["field"] == "items[1].annotations[0].labels[1]"
    assert "width and height must be positive" in results[1]["error"]["reason"]
    assert results[2]["error"]["field"] == "items[2].annotations[0].labels"
    assert results[3]["error"]["field"] == "items[3].source"
    assert len(ingested(ingest)) == 1


async def test_a_duplicate_keeps_the_first_item_and_its_labels(
    api: httpx.AsyncClient, ingest: Ingest
) -> None:
    first = {"text": "same", "annotations": [{"labels": [CAT], "annotator": "a"}]}
    again = {"text": "same", "annotations": [{"labels": [CAT], "annotator": "b"}]}
    results = (await api.post("/v1/projects/p1/items", json={"items": [first, again]})).json()
    assert results["results"][1]["duplicate"] is True
    (event,) = ingested(ingest)
    assert [a.annotator for a in event.imported_annotations] == ["a"]


async def test_files_take_metadata_labels_and_source_from_the_items_field(
    api: httpx.AsyncClient, ingest: Ingest
) -> None:
    items = [
        {"metadata": {"camera": "2"}, "annotations": [{"labels": [CAT]}], "source": "cvat"},
        {},
    ]
    files = [
        ("files", ("a.png", PNG, "image/png")),
        ("files", ("b.txt", b"a note", "text/plain")),
    ]
    response = await api.post(
        "/v1/projects/p1/files", files=files, data={"items": json.dumps(items)}
    )
    assert response.status_code == 200, response.text
    image, note = ingested(ingest)
    assert (dict(image.metadata), image.source, len(image.imported_annotations)) == (
        {"camera": "2"},
        "cvat",
        1,
    )
    assert (dict(note.metadata), note.source) == ({}, "upload")
    stored = await ingest.get_item(response.json()["results"][0]["item_id"])
    assert (stored.metadata, stored.source) == ({"camera": "2"}, "cvat")


@pytest.mark.parametrize(
    ("items", "field"),
    [("[{}, {}]", "items"), ("not json", "items"), ('[{"metadata": []}]', "items[0].metadata")],
)
async def test_a_wrong_items_field_is_a_422_naming_it(
    api: httpx.AsyncClient, ingest: Ingest, items: str, field: str
) -> None:
    files = [("files", ("a.png", PNG, "image/png"))]
    response = await api.post("/v1/projects/p1/files", files=files, data={"items": items})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == field
    assert ingested(ingest) == []


async def test_url_imports_answer_per_url_and_refuse_private_addresses(
    api: httpx.AsyncClient, ingest: Ingest
) -> None:
    body = {
        "items": [
            {"url": "http://127.0.0.1:9/cat.png", "metadata": {"a": "b"}},
            {"url": "ftp://example.org/cat.png"},
        ]
    }
    response = await api.post("/v1/projects/p1/imports/urls", json=body)
    assert response.status_code == 200, response.text
    first, second = response.json()["results"]
    assert first["error"] == {
        "field": "items[0].url",
        "reason": "host '127.0.0.1': 127.0.0.1 is a loopback address",
    }
    assert second["error"]["field"] == "items[1].url"
    assert ingested(ingest) == []
    too_many = {"items": [{"url": "http://example.org/"}] * 257}
    refused = await api.post("/v1/projects/p1/imports/urls", json=too_many)
    assert refused.status_code == 422
    assert refused.json()["detail"][0] == {
        "field": "items",
        "msg": "at most 256 URLs per request",
        "type": "invalid_field",
    }


async def test_a_manifest_is_a_file_part_with_a_mapping_and_answers_per_row(
    api: httpx.AsyncClient, ingest: Ingest
) -> None:
    content = b"body,kind\r\nfirst,cat\r\n,dog\r\nsecond,\r\n"
    response = await api.post(
        "/v1/projects/p1/imports/manifest",
        files={"file": ("rows.csv", content, "text/csv")},
        data={"mapping": json.dumps({"text": "body", "label": "kind"})},
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["index"] for r in results] == [0, 1, 2]
    assert results[1]["error"]["field"] == "rows[1]"
    first, second = ingested(ingest)
    assert (first.text, first.source) == ("first", "manifest")
    assert first.imported_annotations[0].labels[0].classification.label == "cat"
    assert list(second.imported_annotations) == []
    as_jsonl = await api.post(
        "/v1/projects/p1/imports/manifest",
        files={"file": ("rows.txt", b'{"body": "third"}\n', "text/plain")},
        data={"mapping": '{"text": "body"}', "format": "jsonl"},
    )
    assert as_jsonl.status_code == 200 and "error" not in as_jsonl.json()["results"][0]


@pytest.mark.parametrize(
    ("data", "filename", "field"),
    [
        ({}, "rows.csv", "mapping"),
        ({"mapping": '{"txt": "body"}'}, "rows.csv", "mapping"),
        ({"mapping": '{"text": "nope"}'}, "rows.csv", "mapping.text"),
        ({"mapping": '{"text": "body"}'}, "rows.txt", "format"),
        ({"mapping": '{"text": "body"}', "format": "xml"}, "rows.csv", "format"),
    ],
)
async def test_a_wrong_manifest_request_is_a_422_naming_the_field(
    api: httpx.AsyncClient, ingest: Ingest, data: dict[str, str], filename: str, field: str
) -> None:
    response = await api.post(
        "/v1/projects/p1/imports/manifest",
        files={"file": (filename, b"body\r\nx\r\n", "text/csv")},
        data=data,
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["field"] == field
    assert ingested(ingest) == []
