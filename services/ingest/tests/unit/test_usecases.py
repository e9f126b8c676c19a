"""The ingest use cases on the in-memory twins: no broker, no database."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from labelmesh.core.envelopes import user_actor
from labelmesh.core.errors import Conflict, InvalidField, NotFound
from labelmesh.core.storage import LocalDiskStore
from labelmesh.ingest.domain import MAX_INLINE_TEXT_BYTES, Upload
from labelmesh.ingest.usecases import MAX_BATCH, Ingest
from labelmesh.testing.memory import InMemoryUnitOfWork, MemoryState
from labelmesh.testing.twins.ingest import memory_ingest

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
async def ingest(tmp_path: Path) -> Ingest:
    return await memory_ingest(tmp_path / "media", 1024, MemoryState())


def uow_of(ingest: Ingest) -> InMemoryUnitOfWork:
    assert isinstance(ingest.uow, InMemoryUnitOfWork)
    return ingest.uow


def media_files(ingest: Ingest) -> list[str]:
    """The keys of the objects in the store."""
    assert isinstance(ingest.store, LocalDiskStore)
    root = ingest.store.root
    return sorted("/".join(p.relative_to(root).parts) for p in root.rglob("*") if p.is_file())


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
    assert media_files(ingest) == [image.media_key]
    assert await ingest.media(outcomes[0].item_id) == (b"first", "text/plain; charset=utf-8")


async def test_content_seen_before_is_a_duplicate_of_the_first_item(ingest: Ingest) -> None:
    first = await ingest.upload("p1", [Upload(filename="a.png", content=PNG)], user_actor("a"))
    again = await ingest.upload("p1", [Upload(filename="b.png", content=PNG)], user_actor("b"))
    assert (again[0].item_id, again[0].duplicate) == (first[0].item_id, True)
    assert len(uow_of(ingest).emitted("item_ingested")) == 1
    assert len(media_files(ingest)) == 1


async def test_text_stored_before_is_a_duplicate_and_the_rest_is_stored(ingest: Ingest) -> None:
    [first] = await ingest.upload("p1", [Upload(text="seen")], user_actor("a"))
    again, fresh = await ingest.upload(
        "p1", [Upload(text="seen"), Upload(text="fresh")], user_actor("b")
    )
    assert (again.item_id, again.duplicate) == (first.item_id, True)
    assert not fresh.duplicate
    ingested = uow_of(ingest).emitted("item_ingested")
    assert [e.item_ingested.text for e in ingested] == ["seen", "fresh"]


async def test_long_text_goes_to_the_object_store_and_short_text_does_not(
    ingest: Ingest,
) -> None:
    ingest.max_item_bytes = MAX_INLINE_TEXT_BYTES * 2
    long_text = "word " * (MAX_INLINE_TEXT_BYTES // 4)
    short, long = await ingest.upload(
        "p1", [Upload(text="short"), Upload(text=long_text)], user_actor("a")
    )
    stored = await ingest.get_item(long.item_id)
    assert stored.media_key and stored.text == ""
    assert await ingest.media(long.item_id) == (long_text.encode(), "text/plain; charset=utf-8")
    assert (await ingest.get_item(short.item_id)).media_key == ""
    assert len(media_files(ingest)) == 1
    ingested = uow_of(ingest).emitted("item_ingested")
    assert [e.item_ingested.text for e in ingested] == ["short", long_text]


async def test_a_batch_that_loses_a_race_for_the_same_content_reports_a_duplicate(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    [winner] = await ingest.upload("p1", [Upload(filename="a.png", content=PNG)], user_actor("a"))
    real_lookup = ingest.items.ids_by_hash
    lookups = 0

    async def stale_once(project_id: str, hashes: Sequence[str]) -> dict[str, str]:
        # The first check misses the winner, as if its upload had not committed yet.
        nonlocal lookups
        lookups += 1
        return {} if lookups == 1 else await real_lookup(project_id, hashes)

    monkeypatch.setattr(ingest.items, "ids_by_hash", stale_once)
    [loser] = await ingest.upload("p1", [Upload(filename="b.png", content=PNG)], user_actor("b"))
    assert (loser.item_id, loser.duplicate, lookups) == (winner.item_id, True, 2)
    assert await ingest.media(winner.item_id) == (PNG, "image/png")
    assert len(media_files(ingest)) == 1
    assert len(uow_of(ingest).emitted("item_ingested")) == 1


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
