"""Annotations made in another tool, arriving with their item, on the twins:
each fills a slot of the item's task and is announced for review, once."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from labelmesh.annotation.imports import imported_annotation_id
from labelmesh.annotation.records import AnnotationSource, Task, TaskStatus
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.testing.twins.annotation import AnnotationTwins
from labelmesh.v1.events_pb2 import (
    DataType,
    Envelope,
    ImportedAnnotation,
    ItemIngested,
)
from labelmesh.v1.geometry_pb2 import Classification, Label

MADE_AT = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
IMPORTER = user_actor("ida")


def imported(label: str, annotator: str = "alice@ls", origin_id: str = "") -> ImportedAnnotation:
    at = Timestamp()
    at.FromDatetime(MADE_AT)
    return ImportedAnnotation(
        labels=[Label(classification=Classification(label=label), confidence=1.0)],
        annotator=annotator,
        created_at=at,
        origin_id=origin_id,
    )


def ingested(project_id: str, item_id: str, *annotations: ImportedAnnotation) -> Envelope:
    """An ItemIngested from Label Studio, imported by ida."""
    return new_envelope(
        ItemIngested(
            data_type=DataType.DATA_TYPE_TEXT,
            text=f"text of {item_id}",
            source="label-studio",
            imported_annotations=annotations,
        ),
        producer="ingest",
        actor=IMPORTER,
        project_id=project_id,
        item_id=item_id,
    )


async def test_an_imported_annotation_fills_the_only_slot_and_goes_to_review(
    twins: AnnotationTwins,
) -> None:
    pid = await twins.project()
    arrival = ingested(pid, "item-1", imported("politics", origin_id="ls-7"))
    await twins.events.handle([arrival])
    [stored] = await twins.annotation.item_annotations("item-1")
    assert stored.annotation_id == imported_annotation_id("item-1", "label-studio", "ls-7", 0)
    assert (stored.source, stored.annotator, stored.round) == (AnnotationSource.IMPORTED, "ida", 0)
    assert (stored.origin, stored.origin_annotator, stored.origin_id) == (
        "label-studio",
        "alice@ls",
        "ls-7",
    )
    assert stored.origin_created_at == MADE_AT
    [announced] = twins.uow.emitted("annotation_submitted")
    event = announced.annotation_submitted
    assert announced.actor == IMPORTER and announced.trace_id == arrival.trace_id
    assert (event.annotation_id, event.task_id, event.annotator) == (
        stored.annotation_id,
        stored.task_id,
        "ida",
    )
    assert (event.round, event.overlap, event.origin, event.origin_annotator) == (
        0,
        1,
        "label-studio",
        "alice@ls",
    )
    assert event.origin_created_at.ToDatetime(UTC) == MADE_AT
    assert list(event.labels) == list(stored.labels)

    # The item's prediction, later, is shown on the task but opens no slot.
    await twins.publish(pid, "item-1", twins.suggestion("item-1"))
    task = await twins.stores.tasks.get(stored.task_id)
    assert task is not None and task.status == TaskStatus.SUBMITTED and task.suggestion
    assert await twins.annotation.next_task(pid, "bo") is None
    assert twins.counter("labelmesh_annotation_annotations_total", source="imported") == 1


async def test_imported_work_fills_some_slots_and_people_the_rest(twins: AnnotationTwins) -> None:
    pid = await twins.project(overlap=3)
    await twins.events.handle([ingested(pid, "item-1", imported("politics"))])
    await twins.publish(pid, "item-1", twins.suggestion("item-1"))
    [announced] = twins.uow.emitted("annotation_submitted")
    assert announced.annotation_submitted.overlap == 3
    taken = [await twins.annotation.next_task(pid, who) for who in ("bo", "cy", "di")]
    assert [t.item_id if t else None for t in taken] == ["item-1", "item-1", None]


async def test_an_import_of_more_annotations_than_slots_counts_them_all(
    twins: AnnotationTwins,
) -> None:
    pid = await twins.project(overlap=2)
    three = [
        imported(label, f"a{n}@ls") for n, label in enumerate(["sports", "politics", "sports"])
    ]
    await twins.events.handle([ingested(pid, "item-1", *three)])
    announced = twins.uow.emitted("annotation_submitted")
    assert [e.annotation_submitted.overlap for e in announced] == [3, 3, 3]
    assert [e.annotation_submitted.origin_annotator for e in announced] == [
        "a0@ls",
        "a1@ls",
        "a2@ls",
    ]
    assert (await twins.annotation.queue_stats(pid))["submitted"] == 1


async def test_an_item_ingested_again_creates_nothing_twice(twins: AnnotationTwins) -> None:
    pid = await twins.project(overlap=2)
    annotations = (imported("politics", origin_id="ls-1"), imported("sports", origin_id="ls-2"))
    first = ingested(pid, "item-1", *annotations)
    await twins.events.handle([first])
    # The same event delivered again, and the same item announced again under a new event id.
    await twins.events.handle([first, ingested(pid, "item-1", *annotations)])
    assert len(await twins.annotation.item_annotations("item-1")) == 2
    assert len(twins.uow.emitted("annotation_submitted")) == 2
    task = await task_of(twins, "item-1")
    assert (task.status, task.open_slots) == (TaskStatus.SUBMITTED, 0)


async def test_an_annotation_outside_the_schema_is_left_out_alone(twins: AnnotationTwins) -> None:
    pid = await twins.project(overlap=2)
    await twins.events.handle(
        [ingested(pid, "item-1", imported("weather"), imported("politics"), ImportedAnnotation())]
    )
    [stored] = await twins.annotation.item_annotations("item-1")
    assert class_of(stored.labels[0]) == "politics"
    refused = "labelmesh_annotation_imports_refused_total"
    assert twins.counter(refused, reason="label") == 1
    assert twins.counter(refused, reason="labels") == 1
    task = await task_of(twins, "item-1")
    assert (task.status, task.open_slots) == (TaskStatus.PENDING, 1)


def class_of(label: Label) -> str:
    return label.classification.label


async def task_of(twins: AnnotationTwins, item_id: str) -> Task:
    async with twins.uow.begin() as tx:
        return (await twins.stores.tasks.by_items(tx, [item_id]))[item_id]


def test_an_imported_annotation_keeps_its_id_whatever_else_changes() -> None:
    by_origin = imported_annotation_id("item-1", "cvat", "42", 0)
    assert by_origin == imported_annotation_id("item-1", "cvat", "42", 5)
    assert by_origin != imported_annotation_id("item-1", "coco", "42", 0)
    assert by_origin != imported_annotation_id("item-2", "cvat", "42", 0)
    assert imported_annotation_id("item-1", "cvat", "", 0) != imported_annotation_id(
        "item-1", "cvat", "", 1
    )
