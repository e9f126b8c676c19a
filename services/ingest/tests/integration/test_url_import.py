"""URL imports against the real database, a real S3 server (moto) and a real
HTTP server on the loopback interface, which these settings allow."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from labelmesh.core.config import CoreSettings
from labelmesh.core.envelopes import user_actor
from labelmesh.core.errors import InvalidField
from labelmesh.core.mongo import OUTBOX
from labelmesh.core.outbox import stored_events
from labelmesh.ingest.adapters.fetcher import HttpFetcher
from labelmesh.ingest.addresses import AddressPolicy, parse_networks
from labelmesh.ingest.app import IngestApp, build_app
from labelmesh.ingest.domain import Upload
from labelmesh.ingest.url_import import MAX_URLS, UrlImport, UrlItem
from labelmesh.v1.events_pb2 import ProjectSpec

from .conftest import PNG, MediaServer, ingest_settings

pytestmark = pytest.mark.integration
CAT = {"labels": [{"classification": {"label": "cat"}}], "annotator": "ann"}


@pytest.fixture
async def app(core_settings: CoreSettings, moto_endpoint: str) -> AsyncIterator[IngestApp]:
    settings = ingest_settings(
        core_settings,
        moto_endpoint,
        url_timeout_seconds=1,
        max_item_bytes=1024 * 1024,
    )
    app = build_app(settings)
    assert app.service.on_start is not None
    await app.service.on_start()
    async with app.service.platform.uow.begin() as tx:
        await app.projects.save(tx, ProjectSpec(project_id="p1", classes=["cat"]))
    yield app
    await app.urls.fetcher.close()
    await app.service.platform.close()


def fetches(app: IngestApp, outcome: str) -> float:
    value = app.service.platform.registry.get_sample_value(
        "labelmesh_ingest_url_fetches_total", {"outcome": outcome}
    )
    return value or 0.0


async def test_urls_are_stored_like_uploaded_files_and_a_bad_one_fails_alone(
    app: IngestApp, media_server: MediaServer
) -> None:
    items = [
        UrlItem(media_server.url("/cat.png"), metadata={"camera": "7"}, annotations=[CAT]),
        UrlItem(media_server.url("/missing.png")),
        UrlItem(media_server.url("/to-metadata")),
        UrlItem(media_server.url("/note"), source="label-studio"),
    ]
    outcomes = await app.urls.import_urls("p1", items, user_actor("dana"))
    assert [o.index for o in outcomes] == [0, 1, 2, 3]
    failed = {o.index: o.error for o in outcomes if o.error}
    assert failed[1] is not None and (failed[1].field, failed[1].reason) == (
        "items[1].url",
        "HTTP 404",
    )
    assert failed[2] is not None and failed[2].field == "items[2].url"
    assert "169.254.169.254 is a link-local address" in failed[2].reason
    image = await app.ingest.get_item(outcomes[0].item_id)
    assert (image.content_type, image.filename, image.metadata) == (
        "image/png",
        "cat.png",
        {"camera": "7"},
    )
    assert (image.source, image.source_uri) == ("url", media_server.url("/cat.png"))
    assert (image.width, image.height) == (4, 3)
    assert await app.ingest.media(image.item_id) == (PNG, "image/png")
    note = await app.ingest.get_item(outcomes[3].item_id)
    assert (note.source, note.text) == ("label-studio", "une note, é")
    db = app.service.platform.db
    assert await db[OUTBOX].count_documents({}) == 1, "one transaction for the request"
    events = {e.item_id: e for e in await stored_events(db) if e.item_id}
    ingested = events[image.item_id].item_ingested
    assert [a.annotator for a in ingested.imported_annotations] == ["ann"]
    assert ingested.source_uri == media_server.url("/cat.png")
    assert (fetches(app, "fetched"), fetches(app, "http_status"), fetches(app, "denied")) == (
        2,
        1,
        1,
    )


async def test_a_url_whose_content_was_uploaded_before_is_a_duplicate(
    app: IngestApp, media_server: MediaServer
) -> None:
    (uploaded,) = await app.ingest.upload(
        "p1", [Upload(filename="mine.png", content=PNG)], user_actor("dana")
    )
    outcomes = await app.urls.import_urls(
        "p1",
        [UrlItem(media_server.url("/cat.png")), UrlItem(media_server.url("/hop"))],
        user_actor("dana"),
    )
    assert [(o.item_id, o.duplicate) for o in outcomes] == [(uploaded.item_id, True)] * 2
    assert (await app.ingest.get_item(uploaded.item_id)).source == "upload"


async def test_what_needs_no_fetch_is_checked_before_fetching(
    app: IngestApp, media_server: MediaServer
) -> None:
    outcomes = await app.urls.import_urls(
        "p1",
        [
            UrlItem(media_server.url("/cat.png"), annotations=[{"labels": []}]),
            UrlItem(media_server.url("/cat.png"), source="Not A Name"),
        ],
        user_actor("dana"),
    )
    assert [o.error.field if o.error else "" for o in outcomes] == [
        "items[0].annotations[0].labels",
        "items[1].source",
    ]
    assert media_server.hosts == []


async def test_a_request_holds_at_most_256_urls(app: IngestApp) -> None:
    too_many = [UrlItem(f"http://127.0.0.1:9/{i}") for i in range(MAX_URLS + 1)]
    with pytest.raises(InvalidField, match="at most 256 URLs"):
        await app.urls.import_urls("p1", too_many, user_actor("dana"))


async def test_a_url_slower_than_the_requests_time_fails_alone_and_the_others_are_stored(
    app: IngestApp, media_server: MediaServer
) -> None:
    patient = HttpFetcher(
        AddressPolicy(parse_networks("127.0.0.0/8")), 1 << 20, connect_timeout=2, total_timeout=30
    )
    # A request deadline of 1 s leaves its fetches 0.8 s, far less than the fetcher's 30 s.
    urls = UrlImport(app.ingest, patient, app.ingest.metrics, 4, 1 << 20, deadline_seconds=1)
    outcomes = await urls.import_urls(
        "p1",
        [UrlItem(media_server.url("/slow")), UrlItem(media_server.url("/cat.png"))],
        user_actor("dana"),
    )
    assert outcomes[0].error is not None
    assert (outcomes[0].error.field, outcomes[0].error.reason) == (
        "items[0].url",
        "the request's time ran out before the URL's answer",
    )
    assert outcomes[1].error is None and outcomes[1].item_id
    await patient.close()
