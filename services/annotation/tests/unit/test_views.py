"""The messages both APIs return, and the closed sets between records and proto enums."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import pytest
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from labelmesh.annotation import views
from labelmesh.annotation.queue import task_view
from labelmesh.annotation.records import (
    AnnotationDecision,
    AnnotationSource,
    StoredAnnotation,
    Task,
    TaskStatus,
)
from labelmesh.testing.twins.annotation import model_annotation
from labelmesh.v1 import annotation_service_pb2 as pb
from labelmesh.v1.events_pb2 import DataType, ModelRef
from labelmesh.v1.geometry_pb2 import Classification, Label

POLITICS = (Label(classification=Classification(label="politics")),)


@pytest.mark.parametrize(
    ("records", "enum", "table"),
    [
        (TaskStatus, pb.TaskStatus, views.TASK_STATUSES),
        (AnnotationSource, pb.AnnotationSource, views.ANNOTATION_SOURCES),
        (AnnotationDecision, pb.AnnotationDecision, views.ANNOTATION_DECISIONS),
    ],
)
def test_every_member_has_the_proto_value_of_its_name_and_back(
    records: type[StrEnum], enum: EnumTypeWrapper, table: dict[StrEnum, int]
) -> None:
    prefix = enum.DESCRIPTOR.values[0].name.removesuffix("UNSPECIFIED")
    assert {member: enum.Name(table[member]) for member in records} == {
        member: prefix + member.name for member in records
    }
    named = {number for number in enum.values() if enum.Name(number) != prefix + "UNSPECIFIED"}
    assert sorted(table.values()) == sorted(named)


def test_a_task_shows_its_status_in_both_forms() -> None:
    task = Task(
        task_id="t",
        item_id="i",
        project_id="p",
        status=TaskStatus.ASSIGNED,
        created_at=datetime.now(UTC),
        data_type=DataType.DATA_TYPE_TEXT,
        text="some text",
        open_slots=0,
        takers=("ana",),
        assigned=("ana",),
        suggestion=POLITICS,
        suggestion_model=ModelRef(id="m", version="1"),
    )
    shown = views.task(task_view(task, "ana"))
    assert (shown.status, shown.task_status) == ("assigned", pb.TASK_STATUS_ASSIGNED)
    assert (shown.task_id, shown.item_id, shown.text, shown.data_type) == (
        "t",
        "i",
        "some text",
        DataType.DATA_TYPE_TEXT,
    )
    assert (shown.assignee, list(shown.assignees), list(shown.suggestion)) == (
        "ana",
        ["ana"],
        list(POLITICS),
    )
    assert shown.suggestion_model == ModelRef(id="m", version="1")
    assert views.next_task(task_view(task)).task == shown
    assert not views.next_task(None).HasField("task")


def test_an_item_annotation_names_its_source_and_decision() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    model = model_annotation("a", POLITICS, rule_version=3, created_at=at)
    human = StoredAnnotation("b", "t", "i", "p", "ana", AnnotationSource.HUMAN, POLITICS, round=0)
    shown = views.item_annotations([model, human])
    first, second = shown.annotations
    assert (first.source, first.decision, first.rule_version) == (
        pb.ANNOTATION_SOURCE_MODEL,
        pb.ANNOTATION_DECISION_AUTO_ACCEPTED,
        3,
    )
    assert first.created_at.ToDatetime(UTC) == at and list(first.labels) == list(POLITICS)
    assert (second.annotation_id, second.annotator, second.source, second.decision) == (
        "b",
        "ana",
        pb.ANNOTATION_SOURCE_HUMAN,
        pb.ANNOTATION_DECISION_UNSPECIFIED,
    )
    assert not second.HasField("created_at")


def test_an_imported_annotation_shows_its_origin() -> None:
    made = datetime(2025, 3, 1, tzinfo=UTC)
    imported = StoredAnnotation(
        "c",
        "t",
        "i",
        "p",
        "ida",
        AnnotationSource.IMPORTED,
        POLITICS,
        round=0,
        origin="label-studio",
        origin_annotator="alice@ls",
        origin_created_at=made,
        origin_id="ls-7",
    )
    [shown] = views.item_annotations([imported]).annotations
    assert (shown.source, shown.annotator, shown.origin, shown.origin_annotator) == (
        pb.ANNOTATION_SOURCE_IMPORTED,
        "ida",
        "label-studio",
        "alice@ls",
    )
    assert (shown.origin_created_at.ToDatetime(UTC), shown.origin_id) == (made, "ls-7")
