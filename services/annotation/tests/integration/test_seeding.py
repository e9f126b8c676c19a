"""Seeded tasks, as the benchmarks write them, are tasks like any other."""

from __future__ import annotations

import pytest

from labelmesh.annotation.adapters.seeding import seed_open_tasks
from labelmesh.annotation.usecases import Annotation
from labelmesh.core.runner import ServiceDefinition
from labelmesh.testing.twins.annotation import LiveAnnotation
from labelmesh.v1.geometry_pb2 import Classification, Label

pytestmark = pytest.mark.integration


async def test_seeded_tasks_queue_behind_existing_ones_and_count(
    service: ServiceDefinition, app: Annotation, live: LiveAnnotation
) -> None:
    pid = await live.project()
    await live.add_items(pid, ["item-1"])
    written: list[int] = []
    await seed_open_tasks(service.platform.db, pid, 7, written.append)
    assert written == [7]
    assert (await app.queue_stats(pid))["open"] == 8
    first = await app.next_task(pid, "ana")
    assert first is not None and first.item_id == "item-1"
    await app.submit(first.task_id, "ana", [Label(classification=Classification(label="sports"))])
    seeded = await app.next_task(pid, "ana")
    assert seeded is not None and seeded.item_id == f"seed-{pid}-1"
    assert seeded.text == "seeded item 1"
