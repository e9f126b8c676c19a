"""The item repository, on the twin and on SecantusDB."""

from __future__ import annotations

import pytest

from labelmesh.review.pipeline import ItemState, Submission
from labelmesh.review.records import CompletionSource, ReviewState
from labelmesh.testing.backends import Backend
from labelmesh.testing.twins.review import cls

from .builders import at, review_store


def full_item(item_id: str) -> ItemState:
    return ItemState(
        item_id=item_id,
        project_id="p1",
        state=ReviewState.IN_REVIEW,
        round=2,
        expected=3,
        submissions=[
            Submission("a1", "ann", "t1", [cls("cat")], [cls("dog")], 12.5, 2, at(1)),
            Submission("a2", "ben", "t2", [cls("cat")]),
        ],
        labels=[cls("cat")],
        agreement=0.75,
        stage_index=1,
        review_task_id="rt1",
        loops=1,
        flags=["odd"],
        source=CompletionSource.CONSENSUS,
        reviewed_by_person=True,
        policy_version=4,
    )


async def test_every_field_round_trips(backend: Backend) -> None:
    repository = review_store(backend).items
    async with backend.uow.begin() as tx:
        await repository.save(tx, [full_item("i1"), ItemState("i2", "p1")])
    assert await repository.get("i1") == full_item("i1")
    assert await repository.get("i2") == ItemState("i2", "p1")
    assert await repository.get("nope") is None


async def test_closed_sets_come_back_as_their_enums(backend: Backend) -> None:
    repository = review_store(backend).items
    async with backend.uow.begin() as tx:
        await repository.save(tx, [full_item("i1"), ItemState("i2", "p1")])
    full, fresh = await repository.get("i1"), await repository.get("i2")
    assert full is not None and fresh is not None
    assert (type(full.state), type(full.source)) == (ReviewState, CompletionSource)
    assert (fresh.state, fresh.source) == (ReviewState.ANNOTATING, None)


async def test_load_returns_the_known_items_asked_for(backend: Backend) -> None:
    repository = review_store(backend).items
    async with backend.uow.begin() as tx:
        await repository.save(tx, [ItemState("i1", "p1"), ItemState("i2", "p1")])
    async with backend.uow.begin() as tx:
        loaded = await repository.load(tx, ["i1", "i1", "nope"])
        assert loaded == {"i1": ItemState("i1", "p1")}
        assert await repository.get("i2", tx) == ItemState("i2", "p1")


async def test_saving_replaces_and_rolls_back(backend: Backend) -> None:
    repository = review_store(backend).items
    async with backend.uow.begin() as tx:
        await repository.save(tx, [ItemState("i1", "p1")])
    with pytest.raises(RuntimeError):
        async with backend.uow.begin() as tx:
            await repository.save(tx, [full_item("i1")])
            raise RuntimeError("abort")
    assert await repository.get("i1") == ItemState("i1", "p1")
    async with backend.uow.begin() as tx:
        await repository.save(tx, [full_item("i1")])
    assert await repository.get("i1") == full_item("i1")


async def test_a_returned_item_is_a_copy(backend: Backend) -> None:
    repository = review_store(backend).items
    async with backend.uow.begin() as tx:
        await repository.save(tx, [ItemState("i1", "p1")])
    item = await repository.get("i1")
    assert item is not None
    item.state = ReviewState.COMPLETED
    assert await repository.get("i1") == ItemState("i1", "p1")
