"""Uploads against the real database and a real S3 server (moto)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from minio import Minio

from labelmesh.core.config import CoreSettings
from labelmesh.core.envelopes import user_actor
from labelmesh.core.mongo import OUTBOX
from labelmesh.core.outbox import stored_events
from labelmesh.ingest.app import IngestApp, build_app
from labelmesh.ingest.config import IngestSettings
from labelmesh.ingest.domain import Upload
from labelmesh.ingest.usecases import Ingest
from labelmesh.testing.services import service_settings
from labelmesh.v1.events_pb2 import ProjectSpec

pytestmark = pytest.mark.integration
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def settings(core_settings: CoreSettings, moto_endpoint: str) -> IngestSettings:
    s3 = {
        "object_store": "s3",
        "s3_endpoint": moto_endpoint,
        "s3_access_key": "testing",
        "s3_secret_key": "testing",
        "s3_bucket": f"media-{uuid.uuid4().hex[:12]}",
    }
    return service_settings(IngestSettings, core_settings, **s3)


@pytest.fixture
async def app(settings: IngestSettings) -> AsyncIterator[IngestApp]:
    app = build_app(settings)
    assert app.service.on_start is not None
    await app.service.on_start()
    async with app.service.platform.uow.begin() as tx:
        await app.projects.save(tx, ProjectSpec(project_id="p1", classes=["a"]))
    yield app
    await app.service.platform.close()


@pytest.fixture
def ingest(app: IngestApp) -> Ingest:
    return app.ingest


def objects_in(settings: IngestSettings) -> list[str]:
    client = Minio(settings.s3_endpoint, "testing", "testing", secure=False)
    return [o.object_name for o in client.list_objects(settings.s3_bucket, recursive=True)]


async def test_batch_stores_media_and_events_and_refuses_bad_items_alone(
    app: IngestApp, ingest: Ingest, settings: IngestSettings
) -> None:
    outcomes = await ingest.upload(
        "p1",
        [
            Upload(text="first"),
            Upload(filename="a.png", content=b"not a png"),
            Upload(filename="b.png", content=PNG),
            Upload(text="first"),
        ],
        user_actor("dana"),
    )
    assert outcomes[1].error is not None and outcomes[1].error.field == "items[1].content"
    assert outcomes[3].duplicate and outcomes[3].item_id == outcomes[0].item_id
    image = await ingest.get_item(outcomes[2].item_id)
    assert await ingest.store.get(image.media_key) == PNG
    # Short text is kept with the item, not in the object store.
    assert objects_in(settings) == [image.media_key]
    assert await ingest.media(outcomes[0].item_id) == (b"first", "text/plain; charset=utf-8")
    db = app.service.platform.db
    assert await db[OUTBOX].count_documents({}) == 1, "one transaction, one outbox document"
    events = await stored_events(db)
    assert [e.event_type for e in events] == [
        "labelmesh.v1.ItemIngested",
        "labelmesh.v1.ItemIngested",
        "labelmesh.v1.IngestRejected",
    ]
    assert [e.item_id for e in events[:2]] == [outcomes[0].item_id, outcomes[2].item_id]

    again = await ingest.upload("p1", [Upload(filename="b.png", content=PNG)], user_actor("dana"))
    assert (again[0].item_id, again[0].duplicate) == (outcomes[2].item_id, True)
    assert len(objects_in(settings)) == 1


async def test_failed_transaction_leaves_no_orphaned_media(
    app: IngestApp, ingest: Ingest, settings: IngestSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(app.items, "insert", broken)
    with pytest.raises(RuntimeError, match="database went away"):
        await ingest.upload(
            "p1", [Upload(text="lost"), Upload(filename="c.png", content=PNG)], user_actor("d")
        )
    assert objects_in(settings) == []
    assert await app.service.platform.db[OUTBOX].count_documents({}) == 0
    assert await app.items.items.count_documents({}) == 0
