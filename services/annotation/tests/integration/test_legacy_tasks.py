"""Tasks stored before overlap and before queue lanes keep working once upgraded,
against the real database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from labelmesh.annotation.adapters import legacy_tasks
from labelmesh.annotation.usecases import Annotation
from labelmesh.core.runner import ServiceDefinition
from labelmesh.testing.twins.annotation import LiveAnnotation
from labelmesh.v1.geometry_pb2 import Classification, Label

pytestmark = pytest.mark.integration


async def test_tasks_stored_before_overlap_and_lanes_are_upgraded_once(
    service: ServiceDefinition, app: Annotation, live: LiveAnnotation
) -> None:
    pid = await live.project()
    db = service.platform.db
    common = {"project_id": pid, "data_type": 1, "text": "t", "item_ready": True}
    await db["tasks"].insert_many(
        [
            {
                "_id": "t-ana",
                "item_id": "i-1",
                "status": "assigned",
                "assignee": "ana",
                "assigned_at": datetime.now(UTC),
                "created_at": datetime.now(UTC),
                **common,
            },
            {
                "_id": "t-open",
                "item_id": "i-2",
                "status": "open",
                "assignee": None,
                "created_at": datetime.now(UTC),
                **common,
            },
        ]
    )
    assert await legacy_tasks.upgrade(db) == 0  # the service's start-up already ran it
    await db["migrations"].delete_many({})
    assert await legacy_tasks.upgrade(db) == 2
    assert await legacy_tasks.upgrade(db) == 0
    # Then they take their places in the queue, and count in its statistics.
    assert await legacy_tasks.place_in_queues(db, app.stores) == 2
    assert await legacy_tasks.place_in_queues(db, app.stores) == 0
    stats = await app.queue_stats(pid)
    assert (stats["assigned"], stats["open"]) == (1, 1)

    ana = await app.next_task(pid, "ana")
    assert ana is not None and (ana.task_id, ana.status) == ("t-ana", "assigned")
    ben = await app.next_task(pid, "ben")
    assert ben is not None and (ben.task_id, ben.assignees) == ("t-open", ["ben"])
    await app.submit("t-ana", "ana", [Label(classification=Classification(label="sports"))])
    assert (await app.get_task("t-ana")).status == "submitted"
