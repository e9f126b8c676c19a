"""The dataset service's event table on the in-memory twins."""

from __future__ import annotations

from datetime import timedelta

from labelmesh.core.topics import ANNOTATIONS, ITEMS, PREDICTIONS, PROJECTS, REVIEWS
from labelmesh.dataset import handlers
from labelmesh.testing.twins.dataset import T0, DatasetWorld, cls, event
from labelmesh.v1.events_pb2 import (
    AutoAnnotationConfigured,
    AutoAnnotationRules,
    CompletionSource,
    ItemCompleted,
    ItemDeleted,
    ItemIngested,
)


def test_the_service_consumes_the_families_that_carry_labels() -> None:
    assert handlers.TABLE.families == sorted([ANNOTATIONS, ITEMS, PREDICTIONS, PROJECTS, REVIEWS])


async def test_a_replayed_fetch_changes_nothing(world: DatasetWorld) -> None:
    await world.project()
    completed = event(
        ItemCompleted(
            annotation_id="a1",
            labels=[cls("cat")],
            completion_source=CompletionSource.COMPLETION_SOURCE_HUMAN,
        ),
        "i1",
    )
    await world.hear([completed])
    first = world.items.items["i1"]
    await world.hear([completed])
    assert world.items.items["i1"] is first


async def test_rules_configured_in_the_fetch_that_created_the_project_are_kept(
    world: DatasetWorld,
) -> None:
    rules = AutoAnnotationConfigured(rules=AutoAnnotationRules(version=2))
    stale = AutoAnnotationConfigured(rules=AutoAnnotationRules(version=1))
    await world.project()
    await world.hear([event(rules), event(stale)])
    project = await world.projects.get("p1")
    assert project is not None and project.auto_annotation.version == 2


async def test_items_heard_of_for_the_first_time_take_the_next_places_of_their_project(
    world: DatasetWorld,
) -> None:
    await world.project()
    await world.project("p2")
    ingested = ItemIngested(filename="a.png")
    later = T0 + timedelta(seconds=1)
    # Heard out of order, as a fetch's partitions give them: placed by time.
    await world.hear(
        [
            event(ingested, "i2", later),
            event(ItemCompleted(annotation_id="a"), "i1", later),
            event(ingested, "i1"),
            event(ingested, "j1", project="p2"),
        ]
    )
    await world.hear([event(ingested, "i3"), event(ItemCompleted(annotation_id="a"), "i1")])
    places = {i: world.items.items[i].seq for i in ("i1", "i2", "i3", "j1")}
    assert places == {"i1": 1, "i2": 2, "i3": 3, "j1": 1}
    assert await world.items.extent("p1") == 4 and await world.items.extent("p2") == 2


async def test_an_item_deleted_by_ingest_leaves_new_versions_and_a_redelivery_is_harmless(
    world: DatasetWorld,
) -> None:
    await world.project()
    done = ItemCompleted(
        annotation_id="a1",
        labels=[cls("cat")],
        completion_source=CompletionSource.COMPLETION_SOURCE_HUMAN,
    )
    await world.hear([event(ItemIngested(filename="a.png"), "i1"), event(done, "i1")])
    deleted = event(ItemDeleted(reason="object deleted"), "i1", T0 + timedelta(minutes=1))

    await world.hear([deleted, event(ItemDeleted(reason="never seen"), "unknown")])
    await world.hear([deleted])

    assert world.items.items["i1"].deleted_at == T0 + timedelta(minutes=1)
    assert [i async for batch in world.items.accepted("p1", 10) for i in batch] == []
