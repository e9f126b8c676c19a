"""The review task repository (the reviewers' queue), on the twin and on SecantusDB."""

from __future__ import annotations

import dataclasses

import pytest

from labelmesh.core.errors import Conflict
from labelmesh.review.ports import ReviewTaskRepository
from labelmesh.review.records import ReviewTask, TaskKind, TaskStatus
from labelmesh.testing.backends import Backend
from labelmesh.testing.twins.review import cls
from labelmesh.v1.events_pb2 import AnnotationCandidate

from .builders import at, review_store


def task(task_id: str, minutes: int = 0, **fields: object) -> ReviewTask:
    base = ReviewTask(
        review_task_id=task_id,
        project_id="p1",
        item_id=f"item-{task_id}",
        kind=TaskKind.ADJUDICATION,
        stage_index=-1,
        stage="adjudication",
        role="expert",
        team="",
        labels=[cls("cat")],
        candidates=[AnnotationCandidate(annotation_id="a1", annotator="ann", labels=[cls("dog")])],
        agreement=0.5,
        reason="split",
        round=1,
        annotators=["ann", "ben"],
        created_at=at(minutes),
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


async def holding(backend: Backend, *tasks: ReviewTask) -> ReviewTaskRepository:
    """The review task repository, once `tasks` are inserted in one transaction."""
    repository = review_store(backend).tasks
    async with backend.uow.begin() as tx:
        await repository.insert(tx, list(tasks))
    return repository


async def test_every_field_round_trips(backend: Backend) -> None:
    stored = task("t1", team="qa", kind=TaskKind.REVIEW)
    repository = await holding(backend, stored)
    assert await repository.get("t1") == stored
    assert await repository.get("nope") is None


async def test_an_id_stored_twice_is_a_conflict(backend: Backend) -> None:
    repository = await holding(backend, task("t1"))
    with pytest.raises(Conflict):
        async with backend.uow.begin() as tx:
            await repository.insert(tx, [task("t2"), task("t1")])
    assert await repository.get("t2") is None


async def test_a_reviewer_claims_the_oldest_open_task_they_may_take(backend: Backend) -> None:
    repository = await holding(
        backend,
        task("newer", 5),
        task("own-work", 0, annotators=["eve"]),
        task("other-role", 1, role="linguist"),
        task("other-project", 0, project_id="p2"),
        task("by-team", 3, role="", team="qa"),
        task("older", 2),
    )
    claimed = await repository.claim("p1", "eve", ["expert"], [])
    assert claimed is not None
    assert (claimed.review_task_id, claimed.status, claimed.assignee) == (
        "older",
        TaskStatus.ASSIGNED,
        "eve",
    )
    assert await repository.assigned_to("p1", "eve") == claimed
    assert await repository.assigned_to("p1", "bob") is None
    by_team = await repository.claim("p1", "eve", [], ["qa"])
    assert by_team is not None and by_team.review_task_id == "by-team"
    assert (await repository.claim("p1", "eve", ["expert"], [])).review_task_id == "newer"  # type: ignore[union-attr]
    assert await repository.claim("p1", "eve", ["expert"], ["qa"]) is None


async def test_a_task_closes_once_and_cancels_only_while_open(backend: Backend) -> None:
    repository = await holding(backend, task("t1"), task("t2"))
    async with backend.uow.begin() as tx:
        assert await repository.close(tx, "t1", "eve")
        assert not await repository.close(tx, "t1", "bob")
        assert not await repository.close(tx, "nope", "bob")
    closed = await repository.get("t1")
    assert closed is not None and (closed.status, closed.assignee) == (TaskStatus.DECIDED, "eve")
    await repository.cancel("t1")
    await repository.cancel("t2")
    assert (await repository.get("t1")).status == TaskStatus.DECIDED  # type: ignore[union-attr]
    assert (await repository.get("t2")).status == TaskStatus.CANCELLED  # type: ignore[union-attr]
    assert await repository.claim("p1", "eve", ["expert"], []) is None


async def test_a_rolled_back_close_leaves_the_task_open(backend: Backend) -> None:
    repository = await holding(backend, task("t1"))
    with pytest.raises(RuntimeError):
        async with backend.uow.begin() as tx:
            await repository.close(tx, "t1", "eve")
            raise RuntimeError("abort")
    assert (await repository.get("t1")).status == TaskStatus.OPEN  # type: ignore[union-attr]
