"""Manifest imports against the real database, a real S3 server (moto) and a
real HTTP server on the loopback interface: CSV and JSONL files mixing text,
URLs and stored objects, good rows and bad."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator

import pytest

from labelmesh.core.config import CoreSettings
from labelmesh.core.envelopes import user_actor
from labelmesh.core.errors import InvalidField
from labelmesh.core.mongo import OUTBOX
from labelmesh.core.outbox import stored_events
from labelmesh.ingest.app import IngestApp, build_app
from labelmesh.ingest.config import IngestSettings
from labelmesh.ingest.manifest import CSV, JSONL
from labelmesh.ingest.manifest_import import ManifestImport
from labelmesh.v1.events_pb2 import ProjectSpec
from labelmesh.v1.ingest_service_pb2 import ManifestMapping

from .conftest import PNG, MediaServer, ingest_settings

pytestmark = pytest.mark.integration
STAGED = "imports/p1/batch-1/dog.png"
DOG = PNG + b"dog"


def settings_for(core: CoreSettings, moto_endpoint: str, **fields: object) -> IngestSettings:
    return ingest_settings(
        core,
        moto_endpoint,
        url_timeout_seconds=2,
        max_item_bytes=1024 * 1024,
        **fields,
    )


async def started(settings: IngestSettings) -> IngestApp:
    app = build_app(settings)
    assert app.service.on_start is not None
    await app.service.on_start()
    async with app.service.platform.uow.begin() as tx:
        await app.projects.save(tx, ProjectSpec(project_id="p1", classes=["cat", "dog"]))
    await app.ingest.store.put(STAGED, DOG, "image/png")
    await app.ingest.store.put("imports/p2/secret.png", PNG + b"p2", "image/png")
    return app


@pytest.fixture
async def app(core_settings: CoreSettings, moto_endpoint: str) -> AsyncIterator[IngestApp]:
    app = await started(settings_for(core_settings, moto_endpoint))
    yield app
    await app.urls.fetcher.close()
    await app.service.platform.close()


def importer(app: IngestApp, batch_rows: int = 1000) -> ManifestImport:
    return ManifestImport(app.ingest, app.urls, app.ingest.store, batch_rows=batch_rows)


def csv_manifest(server: MediaServer) -> bytes:
    listed = json.dumps([{"labels": [{"classification": {"label": "cat"}}]}])
    # CSV quoting: the cell in quotes, each quote doubled.
    annotations = '"' + listed.replace('"', '""') + '"'
    rows = [
        "text,url,key,class,who,camera,annotations",
        f"a note about cats,,,cat,alice,1,{annotations}",
        f",{server.url('/cat.png')},,,,2,",
        f",,{STAGED},dog,bob,3,",
        f",{server.url('/missing.png')},,,,4,",
        ",,imports/p2/secret.png,,,5,",
        "both,http://a.example/x.png,,,,6,",
        ",,,,,7,",
        'bad json,,,,,8,"[{""labels"": "',
        "a note about cats,,,,,9,",
    ]
    return "\r\n".join(rows).encode()


MAPPING = ManifestMapping(
    text="text",
    url="url",
    object_key="key",
    label="class",
    annotator="who",
    metadata=["camera"],
    annotations="annotations",
)


async def test_a_csv_manifest_stores_its_good_rows_and_names_the_bad(
    app: IngestApp, media_server: MediaServer
) -> None:
    outcomes = await importer(app, batch_rows=4).import_manifest(
        "p1", io.BytesIO(csv_manifest(media_server)), CSV, MAPPING, user_actor("dana")
    )
    assert [o.index for o in outcomes] == list(range(9))
    errors = {o.index: (o.error.field, o.error.reason) for o in outcomes if o.error}
    assert errors.keys() == {3, 4, 5, 6, 7}
    assert errors[3] == ("rows[3].url", "HTTP 404")
    assert errors[4][0] == "rows[4].object_key" and "not under imports/p1/" in errors[4][1]
    assert errors[5] == ("rows[5]", "give exactly one of text, url, object_key; found text, url")
    assert errors[6][1].endswith("found none")
    assert errors[7][0] == "rows[7].annotations"
    assert (outcomes[8].duplicate, outcomes[8].item_id) == (True, outcomes[0].item_id)

    note = await app.ingest.get_item(outcomes[0].item_id)
    assert (note.text, note.metadata, note.source, note.source_uri) == (
        "a note about cats",
        {"camera": "1"},
        "manifest",
        "",
    )
    image = await app.ingest.get_item(outcomes[1].item_id)
    assert (image.source, image.source_uri, image.content_type) == (
        "manifest",
        media_server.url("/cat.png"),
        "image/png",
    )
    staged = await app.ingest.get_item(outcomes[2].item_id)
    assert (staged.source_uri, staged.filename, staged.metadata) == (
        STAGED,
        "dog.png",
        {"camera": "3"},
    )
    assert await app.ingest.media(staged.item_id) == (DOG, "image/png")

    db = app.service.platform.db
    # Batches of four rows, each one transaction with one outbox document; the
    # third batch, one duplicate, emits nothing.
    assert await db[OUTBOX].count_documents({}) == 2
    events = {e.item_id: e.item_ingested for e in await stored_events(db) if e.item_id}
    annotated = events[note.item_id].imported_annotations
    assert [(a.annotator, a.labels[0].classification.label) for a in annotated] == [
        ("alice", "cat"),
        ("alice", "cat"),
    ]
    assert [a.annotator for a in events[staged.item_id].imported_annotations] == ["bob"]


async def test_a_jsonl_manifest_imported_twice_stores_nothing_twice(
    app: IngestApp, media_server: MediaServer
) -> None:
    lines = [
        {"t": "first", "preds": [{"labels": [{"classification": {"label": "cat"}}], "score": 0.9}]},
        {"u": media_server.url("/hop"), "site": {"zone": 4}},
        "not an object",
        {"t": "second", "preds": [{"score": 3}]},
        {"u": "http://10.0.0.7/inside.png"},
    ]
    content = "\n".join(json.dumps(line) for line in lines).encode() + b"\n{broken\n"
    mapping = ManifestMapping(text="t", url="u", predictions="preds", metadata=["site"])
    first = await importer(app).import_manifest(
        "p1", io.BytesIO(content), JSONL, mapping, user_actor("dana")
    )
    errors = {o.index: o.error.field for o in first if o.error}
    assert errors == {
        2: "rows[2]",
        3: "rows[3].predictions[0].score",
        4: "rows[4].url",
        5: "rows[5]",
    }
    image = await app.ingest.get_item(first[1].item_id)
    assert (image.metadata, image.source_uri) == ({"site": '{"zone": 4}'}, media_server.url("/hop"))
    again = await importer(app).import_manifest(
        "p1", io.BytesIO(content), JSONL, mapping, user_actor("dana")
    )
    assert [(o.item_id, o.duplicate) for o in again if not o.error] == [
        (first[0].item_id, True),
        (first[1].item_id, True),
    ]


async def test_rows_whose_media_outgrows_a_batchs_pool_are_stored_in_a_later_round(
    core_settings: CoreSettings, moto_endpoint: str, media_server: MediaServer
) -> None:
    # Room for one PNG at a time: each row's fetch waits for the round after.
    app = await started(
        settings_for(core_settings, moto_endpoint, url_batch_max_bytes=len(DOG) + 8)
    )
    try:
        content = f"u,k\r\n{media_server.url('/cat.png')},\r\n,{STAGED}\r\n".encode()
        mapping = ManifestMapping(url="u", object_key="k")
        outcomes = await importer(app).import_manifest(
            "p1", io.BytesIO(content), CSV, mapping, user_actor("dana")
        )
        assert [(o.index, o.error) for o in outcomes] == [(0, None), (1, None)]
        assert len({o.item_id for o in outcomes}) == 2
    finally:
        await app.urls.fetcher.close()
        await app.service.platform.close()


async def test_a_manifest_without_data_rows_or_with_a_wrong_header_is_refused(
    app: IngestApp,
) -> None:
    with pytest.raises(InvalidField, match="no data rows"):
        await importer(app).import_manifest(
            "p1", io.BytesIO(b"text\r\n\r\n"), CSV, ManifestMapping(text="text"), user_actor("d")
        )
    with pytest.raises(InvalidField) as wrong:
        await importer(app).import_manifest(
            "p1", io.BytesIO(b"body\r\nx\r\n"), CSV, ManifestMapping(text="text"), user_actor("d")
        )
    assert wrong.value.field == "mapping.text"
