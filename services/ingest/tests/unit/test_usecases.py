"""The ingest use cases on the in-memory twins: no broker, no database."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from labelmesh.core.envelopes import user_actor
from labelmesh.core.errors import Conflict, InvalidField, NotFound
from labelmesh.core.storage import LocalDiskStore
from labelmesh.ingest.domain import Upload
from labelmesh.ingest.metrics import IngestMetrics
from labelmesh.ingest.usecases import MAX_BATCH, Ingest
from labelmesh.testing.memory import InMemoryProjectDirectory, InMemoryUnitOfWork, MemoryState
from labelmesh.testing.twins.ingest import InMemoryItemRepository
from labelmesh.v1.events_pb2 import ProjectSpec

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
async def ingest(tmp_path: Path) -> Ingest:
    state = MemoryState()
    uow = InMemoryUnitOfWork(state)
    projects = InMemoryProjectDirectory(state)
    async with uow.begin() as tx:
        await projects.save(tx, ProjectSpec(project_id="p1", classes=["a"]))
    store = LocalDiskStore(tmp_path / "media")
    await store.ensure_ready()
    return Ingest(
        InMemoryItemRepository(state),
        projects,
        store,
        uow,
        IngestMetrics(CollectorRegistry()),
        max_item_bytes=1024,
    )


def uow_of(ingest: Ingest) -> InMemoryUnitOfWork:
    assert isinstance(ingest.uow, InMemoryUnitOfWork)
    return ingest.uow


def media_files(ingest: Ingest) -> list[Path]:
    assert isinstance(ingest.store, LocalDiskStore)
    return sorted(p for p in ingest.store.root.rglob("*") if p.is_file())


async def test_a_batch_stores_each_good_item_once_and_refuses_bad_ones_alone(
    ingest: Ingest,
) -> None:
    outcomes = await ingest.upload(
        "p1",
        [
            Upload(text="first"),
            Upload(text=""),
            Upload(filename="b.png", content=PNG, metadata={"camera": "2"}),
            Upload(text="first"),
        ],
        user_actor("dana"),
    )
    assert [o.index for o in outcomes] == [0, 1, 2, 3]
    assert outcomes[1].error is not None and outcomes[1].error.field == "items[1].text"
    assert outcomes[3].duplicate and outcomes[3].item_id == outcomes[0].item_id
    image = await ingest.get_item(outcomes[2].item_id)
    assert (image.project_id, image.content_type, image.metadata) == (
        "p1",
        "image/png",
        {"camera": "2"},
    )
    assert await ingest.media(image.item_id) == (PNG, "image/png")
    ingested = uow_of(ingest).emitted("item_ingested")
    assert [e.item_id for e in ingested] == [outcomes[0].item_id, outcomes[2].item_id]
    assert ingested[0].item_ingested.text == "first"
    assert ingested[0].actor.id == "dana"
    rejected = uow_of(ingest).emitted("ingest_rejected")
    assert [e.ingest_rejected.field for e in rejected] == ["items[1].text"]
    assert len(media_files(ingest)) == 2


async def test_content_seen_before_is_a_duplicate_of_the_first_item(ingest: Ingest) -> None:
    first = await ingest.upload("p1", [Upload(filename="a.png", content=PNG)], user_actor("a"))
    again = await ingest.upload("p1", [Upload(filename="b.png", content=PNG)], user_actor("b"))
    assert (again[0].item_id, again[0].duplicate) == (first[0].item_id, True)
    assert len(uow_of(ingest).emitted("item_ingested")) == 1
    assert len(media_files(ingest)) == 1


async def test_errors_in_a_stream_name_the_item_by_its_place_in_the_stream(
    ingest: Ingest,
) -> None:
    outcomes = await ingest.upload("p1", [Upload(text="")], user_actor("a"), first_index=200)
    assert outcomes[0].error is not None and outcomes[0].error.field == "items[200].text"


async def test_a_request_must_name_a_known_project_and_hold_one_to_max_items(
    ingest: Ingest,
) -> None:
    with pytest.raises(NotFound, match="project 'nope'"):
        await ingest.upload("nope", [Upload(text="x")], user_actor("a"))
    with pytest.raises(InvalidField, match="at least one item"):
        await ingest.upload("p1", [], user_actor("a"))
    with pytest.raises(InvalidField, match=f"at most {MAX_BATCH}"):
        await ingest.upload("p1", [Upload(text="x")] * (MAX_BATCH + 1), user_actor("a"))
    assert uow_of(ingest).outbox == []


async def test_a_failed_write_removes_the_batch_media_and_emits_nothing(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def conflicting(*_: object) -> None:
        raise Conflict("identical content was uploaded concurrently; retry")

    monkeypatch.setattr(ingest.items, "insert", conflicting)
    with pytest.raises(Conflict):
        await ingest.upload(
            "p1", [Upload(text="lost"), Upload(filename="c.png", content=PNG)], user_actor("d")
        )
    assert media_files(ingest) == []
    assert uow_of(ingest).outbox == []


async def test_an_unknown_item_is_not_found(ingest: Ingest) -> None:
    with pytest.raises(NotFound, match="item 'missing'"):
        await ingest.get_item("missing")
    with pytest.raises(NotFound):
        await ingest.media("missing")
