"""Overlap slots, submissions and queue counts, against the real broker and database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from labelmesh.annotation.usecases import Annotation
from labelmesh.core.errors import Conflict
from labelmesh.core.outbox import stored_events
from labelmesh.core.runner import ServiceDefinition
from labelmesh.testing.twins.annotation import LiveAnnotation
from labelmesh.v1.events_pb2 import (
    AnnotationAutoAccepted,
    DataType,
    Envelope,
    GoldStandardSet,
    ItemDeleted,
    ItemIngested,
)
from labelmesh.v1.geometry_pb2 import Classification, Label

pytestmark = pytest.mark.integration
POLITICS = [Label(classification=Classification(label="politics"))]


async def submissions(service: ServiceDefinition) -> list[Envelope]:
    return await stored_events(service.platform.db, "labelmesh.v1.AnnotationSubmitted")


async def test_overlap_gives_each_slot_to_a_different_annotator(
    service: ServiceDefinition, app: Annotation, live: LiveAnnotation
) -> None:
    pid = await live.project(overlap=3)
    await live.add_items(pid, ["item-1"])

    first = await app.next_task(pid, "ana")
    second = await app.next_task(pid, "ben")
    third = await app.next_task(pid, "cy")
    assert first is not None and second is not None and third is not None
    assert first.task_id == second.task_id == third.task_id
    assert [(t.status, t.assignee) for t in (first, second, third)] == [
        ("open", "ana"),
        ("open", "ben"),
        ("assigned", "cy"),
    ]
    assert third.assignees == ["ana", "ben", "cy"]
    assert await app.next_task(pid, "dee") is None

    # Asking again returns the annotator's own slot, never a second one.
    again = await app.next_task(pid, "ana")
    assert again is not None and again.task_id == first.task_id
    document = await service.platform.db["tasks"].find_one({"_id": first.task_id})
    assert document is not None
    assert (document["takers"], document["open_slots"]) == (["ana", "ben", "cy"], 0)

    await app.submit(first.task_id, "ana", POLITICS)
    assert await app.next_task(pid, "ana") is None  # her slot is used; no other task
    with pytest.raises(Conflict):
        await app.submit(first.task_id, "ana", POLITICS)
    with pytest.raises(Conflict):
        await app.submit(first.task_id, "dee", POLITICS)
    await app.submit(first.task_id, "ben", POLITICS)
    assert (await app.get_task(first.task_id)).status == "assigned"
    await app.submit(first.task_id, "cy", POLITICS)
    assert (await app.get_task(first.task_id)).status == "submitted"


async def test_an_annotator_moves_on_to_the_next_item_not_another_slot(
    app: Annotation, live: LiveAnnotation
) -> None:
    pid = await live.project(overlap=2)
    await live.add_items(pid, ["item-1", "item-2"])
    taken = []
    for _ in range(2):
        task = await app.next_task(pid, "ana")
        assert task is not None
        taken.append(task.item_id)
        await app.submit(task.task_id, "ana", POLITICS)
    assert sorted(taken) == ["item-1", "item-2"]
    assert await app.next_task(pid, "ana") is None
    ben = await app.next_task(pid, "ben")
    assert ben is not None and ben.item_id == taken[0]


async def test_a_submission_carries_its_round_overlap_and_time_spent(
    live: LiveAnnotation,
) -> None:
    app, service = live.annotation, live.service
    _, task = await live.taken("ana", overlap=2)
    # She took it 42 seconds ago.
    await service.platform.db["tasks"].update_one(
        {"_id": task.task_id},
        {"$set": {"assigned_at.0.at": datetime.now(UTC) - timedelta(seconds=42)}},
    )
    await app.submit(task.task_id, "ana", POLITICS)

    [submitted] = [e.annotation_submitted for e in await submissions(service)]
    assert (submitted.task_id, submitted.round, submitted.overlap) == (task.task_id, 0, 2)
    assert 42 <= submitted.seconds_spent < 72
    [stored] = await app.item_annotations("item-1")
    assert stored.round == 0


async def test_an_untaken_single_overlap_task_can_still_be_submitted_directly(
    service: ServiceDefinition, app: Annotation, live: LiveAnnotation
) -> None:
    pid = await live.project()
    await live.add_items(pid, ["item-1"])
    document = await service.platform.db["tasks"].find_one({"item_id": "item-1"})
    assert document is not None and document["status"] == "open"
    await app.submit(document["_id"], "ana", POLITICS)

    after = await app.get_task(document["_id"])
    assert (after.status, after.assignee, after.assignees) == ("submitted", "ana", ["ana"])
    [submitted] = [e.annotation_submitted for e in await submissions(service)]
    assert (submitted.round, submitted.overlap, submitted.seconds_spent) == (0, 1, 0.0)
    assert await app.next_task(pid, "ben") is None


async def test_queue_stats_count_regular_tasks_by_status_and_gold_apart(
    app: Annotation,
    live: LiveAnnotation,
    rest: httpx.AsyncClient,
) -> None:
    pid = await live.project()
    await live.add_items(pid, ["open", "taken", "handed-in", "gold", "deleted"])
    await live.publish(pid, "gold", [GoldStandardSet(labels=POLITICS)])
    await live.publish(pid, "deleted", [ItemDeleted(reason="object deleted")])
    await live.publish(pid, "waiting", [ItemIngested(data_type=DataType.DATA_TYPE_TEXT, text="x")])
    await live.publish(pid, "model-did-it", [AnnotationAutoAccepted(annotation_id="a-1")])
    assert await app.next_task(pid, "ana") is not None
    ben = await app.next_task(pid, "ben")
    assert ben is not None
    await app.submit(ben.task_id, "ben", POLITICS)

    expected = {
        "open": 1,
        "assigned": 1,
        "submitted": 1,
        "completed": 0,
        "auto_accepted": 1,
        "pending": 1,
        "gold": 1,
        "cancelled": 1,
    }
    assert await app.queue_stats(pid) == expected
    response = await rest.get(f"/v1/projects/{pid}/queue")
    assert (response.status_code, response.json()) == (200, expected)
    assert (await rest.get("/v1/projects/nope/queue")).status_code == 404
