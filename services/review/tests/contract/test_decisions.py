"""The decision history and the reviewers' decisions, on the twin and on SecantusDB."""

from __future__ import annotations

import dataclasses

import pytest

from labelmesh.core.errors import Conflict
from labelmesh.review.records import ItemDecision, ReviewerDecision, Settlement, Window
from labelmesh.testing.backends import Backend
from labelmesh.testing.twins.review import cls
from labelmesh.v1.events_pb2 import ReviewDecided, ReviewDecision

from .builders import at, review_store


def decided(review_id: str) -> ReviewDecided:
    return ReviewDecided(
        review_id=review_id,
        annotation_id=f"a-{review_id}",
        decision=ReviewDecision.REVIEW_DECISION_APPROVED,
        reason="fine",
        stage="review",
    )


def by(reviewer: str, task_id: str, minutes: int, item_id: str = "i1") -> ReviewerDecision:
    return ReviewerDecision(
        review_task_id=task_id,
        project_id="p1",
        item_id=item_id,
        reviewer=reviewer,
        stage="check",
        approved=True,
        labels=[cls("cat")],
        decided_at=at(minutes),
    )


async def test_an_items_history_comes_back_in_order(backend: Backend) -> None:
    repository = review_store(backend).decisions
    async with backend.uow.begin() as tx:
        await repository.append(
            tx, [ItemDecision("p1", "i1", decided("r1")), ItemDecision("p1", "i2", decided("r2"))]
        )
    async with backend.uow.begin() as tx:
        await repository.append(tx, [ItemDecision("p1", "i1", decided("r3"))])
    assert await repository.of_item("i1") == [decided("r1"), decided("r3")]
    assert await repository.of_item("nope") == []
    with pytest.raises(Conflict):
        async with backend.uow.begin() as tx:
            await repository.append(tx, [ItemDecision("p1", "i1", decided("r1"))])


async def test_reviewer_decisions_round_trip_and_settle(backend: Backend) -> None:
    repository = review_store(backend).reviewer_decisions
    async with backend.uow.begin() as tx:
        await repository.record(tx, by("eve", "t2", 2))
        await repository.record(tx, by("bob", "t1", 1))
        await repository.record(tx, by("eve", "t3", 0, item_id="i2"))
    async with backend.uow.begin() as tx:
        unsettled = await repository.unsettled(tx, ["i1", "nope"])
        assert unsettled == {"i1": [by("bob", "t1", 1), by("eve", "t2", 2)]}
        await repository.settle(tx, [Settlement("t1", True, False), Settlement("t2", False, True)])
    async with backend.uow.begin() as tx:
        assert await repository.unsettled(tx, ["i1"]) == {}
    settled = await repository.in_window(Window("p1"))
    assert [d.review_task_id for d in settled] == ["t3", "t1", "t2"]
    assert settled[1] == dataclasses.replace(
        by("bob", "t1", 1), settled=True, matches_final=True, overturned=False
    )
    assert (settled[2].matches_final, settled[2].overturned) == (False, True)
    with pytest.raises(Conflict):
        async with backend.uow.begin() as tx:
            await repository.record(tx, by("eve", "t1", 5))


async def test_a_window_bounds_the_decisions_and_names_a_reviewer(backend: Backend) -> None:
    repository = review_store(backend).reviewer_decisions
    async with backend.uow.begin() as tx:
        for minutes, who in ((0, "eve"), (10, "bob"), (20, "eve")):
            await repository.record(tx, by(who, f"t{minutes}", minutes))
    window = Window("p1", since=at(0), until=at(20))
    assert [d.review_task_id for d in await repository.in_window(window)] == ["t0", "t10"]
    mine = Window("p1", user="eve")
    assert [d.review_task_id for d in await repository.in_window(mine)] == ["t0", "t20"]
    assert await repository.in_window(Window("p2")) == []
