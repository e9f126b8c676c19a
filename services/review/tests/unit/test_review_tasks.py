"""Reviewers taking and deciding tasks, and flagging items, on the twins."""

from __future__ import annotations

import pytest

from labelmesh.core.errors import Conflict, InvalidField, NotFound
from labelmesh.review.records import Outcome, TaskKind, TaskStatus, Window
from labelmesh.testing.twins.review import PROJECT, ReviewOnTwins, cls


async def test_next_task_assigns_the_oldest_allowed_task_and_keeps_it(
    review: ReviewOnTwins,
) -> None:
    await review.with_items(("i2", ("ant", "bee", "cat")))
    tasks = review.app.tasks
    with pytest.raises(InvalidField):
        await tasks.next_task(PROJECT, "ann")
    task = await tasks.next_task(PROJECT, "alice")
    assert task is not None
    assert (task.item_id, task.kind, task.status, task.assignee) == (
        "i2",
        TaskKind.ADJUDICATION,
        TaskStatus.ASSIGNED,
        "alice",
    )
    assert await tasks.next_task(PROJECT, "alice") == task
    assert await tasks.next_task(PROJECT, "bob") is None
    assert await tasks.get_task(task.review_task_id) == task
    with pytest.raises(NotFound):
        await tasks.get_task("nope")


async def test_an_adjudication_decides_the_final_labels(review: ReviewOnTwins) -> None:
    await review.with_items(("i2", ("ant", "bee", "cat")))
    tasks = review.app.tasks
    task = await tasks.next_task(PROJECT, "alice")
    assert task is not None
    with pytest.raises(Conflict):
        await tasks.decide(task.review_task_id, "bob", True, "x", [cls("bee")])
    with pytest.raises(InvalidField, match="reason"):
        await tasks.decide(task.review_task_id, "alice", True, "", [cls("bee")])
    with pytest.raises(InvalidField, match="classification"):
        await tasks.decide(task.review_task_id, "alice", True, "x", [cls("owl")])
    outcome = await tasks.decide(task.review_task_id, "alice", True, "bees", [cls("bee")])
    assert outcome == Outcome.COMPLETED
    with pytest.raises(Conflict):
        await tasks.decide(task.review_task_id, "alice", True, "x", [cls("ant")])
    [decided] = review.emitted("adjudication_decided", "i2")
    assert decided.adjudication_decided.adjudicator == "alice"
    [mine] = await review.app.store.reviewer_decisions.in_window(Window(PROJECT))
    assert (mine.reviewer, mine.approved, mine.settled, mine.matches_final) == (
        "alice",
        True,
        True,
        True,
    )


async def test_flagging_a_completed_item_opens_the_review_stage(review: ReviewOnTwins) -> None:
    await review.with_items(("i1", ("cat", "cat", "cat")))
    tasks = review.app.tasks
    with pytest.raises(InvalidField):
        await tasks.flag_item("i1", "  ", "", "quinn")
    with pytest.raises(NotFound):
        await tasks.flag_item("nope", "why", "", "quinn")
    assert await tasks.flag_item("i1", "a lynx, surely", "", "quinn") == Outcome.IN_REVIEW
    [flagged] = review.emitted("item_flagged", "i1")
    assert flagged.item_flagged.flagged_by == "quinn"
    task = await tasks.next_task(PROJECT, "bob")
    assert task is not None and (task.kind, task.stage) == (TaskKind.REVIEW, "expert check")
    with pytest.raises(InvalidField, match="reason"):
        await tasks.decide(task.review_task_id, "bob", False, "", [])
    assert await tasks.decide(task.review_task_id, "bob", False, "wolves", []) == Outcome.SENT_BACK
    assert (await review.app.api.item_status("i1")).state == "annotating"


async def test_a_task_whose_item_moved_on_is_cancelled(review: ReviewOnTwins) -> None:
    await review.with_items(("i1", ("cat", "cat", "cat")))
    tasks = review.app.tasks
    await tasks.flag_item("i1", "check", "", "quinn")
    task = await tasks.next_task(PROJECT, "bob")
    assert task is not None
    item = await review.app.store.items.get("i1")
    assert item is not None
    item.review_task_id = "another"
    async with review.uow.begin() as tx:
        await review.app.store.items.save(tx, [item])
    with pytest.raises(Conflict, match="cancelled"):
        await tasks.decide(task.review_task_id, "bob", True, "", [])
    assert (await tasks.get_task(task.review_task_id)).status == TaskStatus.CANCELLED
