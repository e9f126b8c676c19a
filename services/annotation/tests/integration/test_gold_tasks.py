"""Hidden gold tasks: mixed in at the project's ratio, answered once by each
annotator, left alone by review decisions, and indistinguishable from other
tasks. Against the real broker and database."""

from __future__ import annotations

import uuid

import httpx
import pytest

from labelmesh.annotation.usecases import Annotation
from labelmesh.testing.twins.annotation import LiveAnnotation
from labelmesh.v1.events_pb2 import GoldStandardSet, ReviewDecided, ReviewDecision
from labelmesh.v1.geometry_pb2 import Classification, Label

pytestmark = pytest.mark.integration
ANSWER = [Label(classification=Classification(label="politics"))]


async def gold_queue(
    live: LiveAnnotation, gold_ratio: float, regular: int, gold: int
) -> tuple[str, set[str]]:
    """A project with regular and gold items; gold is announced before its item,
    as it may be. The project id and the gold item ids."""
    pid = await live.project(gold_ratio=gold_ratio)
    gold_ids = [f"gold-{n}" for n in range(gold)]
    for item_id in gold_ids:
        await live.publish(pid, item_id, [GoldStandardSet(labels=ANSWER)])
    await live.add_items(pid, [*gold_ids, *(f"item-{n}" for n in range(regular))])
    return pid, set(gold_ids)


async def work_through(app: Annotation, pid: str, annotator: str) -> list[str]:
    """Take and submit tasks until none is left for the annotator; their item ids."""
    items = []
    while (task := await app.next_task(pid, annotator)) is not None:
        items.append(task.item_id)
        await app.submit(task.task_id, annotator, ANSWER)
        assert len(items) < 50, "the queue never ran dry"
    return items


async def test_gold_is_mixed_in_at_the_ratio_and_never_served_twice(
    live: LiveAnnotation,
) -> None:
    app = live.annotation
    pid, gold = await gold_queue(live, 0.25, regular=6, gold=2)

    ana = await work_through(app, pid, "ana")
    assert [item in gold for item in ana] == [True, False, False, False] * 2
    assert len(set(ana)) == 8
    # Ben finds no regular task left: he gets the gold that is due, and nothing to fill.
    ben = await work_through(app, pid, "ben")
    assert len(ben) == 1 and ben[0] in gold
    assert await app.queue_stats(pid) == {
        "open": 0,
        "assigned": 0,
        "submitted": 6,
        "completed": 0,
        "auto_accepted": 0,
        "pending": 0,
        "gold": 2,
        "cancelled": 0,
    }


async def test_a_due_gold_task_already_answered_gives_way_to_regular_work(
    live: LiveAnnotation,
) -> None:
    pid, gold = await gold_queue(live, 0.75, regular=3, gold=1)
    ana = await work_through(live.annotation, pid, "ana")
    assert [item in gold for item in ana] == [True, False, False, False]


async def test_review_decisions_leave_gold_tasks_alone(live: LiveAnnotation) -> None:
    app = live.annotation
    pid, _ = await gold_queue(live, 0.5, regular=0, gold=1)
    task = await app.next_task(pid, "ana")
    assert task is not None
    annotation_id = await app.submit(task.task_id, "ana", ANSWER)
    tasks = live.service.platform.db["tasks"]
    before = await tasks.find_one({"_id": task.task_id})

    decisions = [
        ReviewDecided(
            review_id=str(uuid.uuid4()),
            annotation_id=annotation_id,
            decision=decision,
            task_id=task.task_id,
            round=0,
        )
        for decision in (
            ReviewDecision.REVIEW_DECISION_REJECTED,
            ReviewDecision.REVIEW_DECISION_APPROVED,
        )
    ]
    await live.publish(pid, task.item_id, decisions)

    after = await tasks.find_one({"_id": task.task_id})
    assert before is not None and after is not None
    for field in ("status", "round", "takers", "submitted", "rework_count"):
        assert after[field] == before[field], field
    ben = await app.next_task(pid, "ben")
    assert ben is not None and ben.task_id == task.task_id


async def test_gold_tasks_look_exactly_like_regular_tasks(
    live: LiveAnnotation, rest: httpx.AsyncClient
) -> None:
    pid, gold = await gold_queue(live, 0.5, regular=1, gold=1)

    async def take_and_submit() -> tuple[dict[str, object], dict[str, object]]:
        taken = await rest.post(f"/v1/projects/{pid}/tasks/next", json={"annotator": "ana"})
        assert taken.status_code == 200, taken.text
        task = taken.json()["task"]
        submitted = await rest.post(
            f"/v1/tasks/{task['task_id']}/annotations",
            json={"annotator": "ana", "labels": [{"classification": {"label": "politics"}}]},
        )
        assert submitted.status_code == 201, submitted.text
        after = (await rest.get(f"/v1/tasks/{task['task_id']}")).json()
        return task, after

    gold_task, gold_after = await take_and_submit()
    regular_task, regular_after = await take_and_submit()
    assert gold_task["item_id"] in gold and regular_task["item_id"] not in gold

    assert gold_task.keys() == regular_task.keys() == gold_after.keys() == regular_after.keys()
    for shown in (gold_task, regular_task):
        assert uuid.UUID(str(shown["task_id"])).version == 4
        assert (shown["task_status"], shown["status"], shown["assignee"], shown["assignees"]) == (
            "TASK_STATUS_ASSIGNED",
            "assigned",
            "ana",
            ["ana"],
        )
        assert shown["suggestion"] and shown["suggestion_model"] == {"id": "m", "version": "1"}
    for shown in (gold_after, regular_after):
        assert (shown["task_status"], shown["status"], shown["assignee"], shown["assignees"]) == (
            "TASK_STATUS_SUBMITTED",
            "submitted",
            "ana",
            ["ana"],
        )
