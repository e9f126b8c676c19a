"""The annotation service's resources as the messages its gRPC methods return;
REST returns the same messages as proto-JSON. The closed sets of the records
meet their proto enums here, and only here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from labelmesh.annotation.queue import TaskView
from labelmesh.annotation.records import (
    AnnotationDecision,
    AnnotationSource,
    StoredAnnotation,
    TaskStatus,
)
from labelmesh.core.enums import proto_values
from labelmesh.v1 import annotation_service_pb2 as pb
from labelmesh.v1.events_pb2 import ProjectSpec

TASK_STATUSES: dict[TaskStatus, pb.TaskStatus] = proto_values(TaskStatus, pb.TaskStatus)
ANNOTATION_SOURCES: dict[AnnotationSource, pb.AnnotationSource] = proto_values(
    AnnotationSource, pb.AnnotationSource
)
ANNOTATION_DECISIONS: dict[AnnotationDecision, pb.AnnotationDecision] = proto_values(
    AnnotationDecision, pb.AnnotationDecision
)


def project_created(spec: ProjectSpec) -> pb.CreateProjectResponse:
    return pb.CreateProjectResponse(project=spec)


def project(spec: ProjectSpec) -> pb.GetProjectResponse:
    return pb.GetProjectResponse(project=spec)


def projects(specs: Iterable[ProjectSpec], next_page_token: str) -> pb.ListProjectsResponse:
    return pb.ListProjectsResponse(projects=specs, next_page_token=next_page_token)


def queue_stats(stats: Mapping[str, int]) -> pb.GetQueueStatsResponse:
    """Regular tasks by status, and gold tasks, as the queue counted them."""
    return pb.GetQueueStatsResponse(**stats)


def task(view: TaskView) -> pb.Task:
    """A task as its viewer sees it; the status in both its forms."""
    return pb.Task(
        task_id=view.task_id,
        project_id=view.project_id,
        item_id=view.item_id,
        data_type=view.data_type,  # type: ignore[arg-type]
        text=view.text,
        media_key=view.media_key,
        suggestion=view.suggestion,
        suggestion_model=view.suggestion_model,
        status=str(view.status),
        task_status=TASK_STATUSES[view.status],
        assignee=view.assignee,
        assignees=view.assignees,
    )


def next_task(view: TaskView | None) -> pb.NextTaskResponse:
    """The task handed out; no task when the queue had none for the annotator."""
    return pb.NextTaskResponse(task=task(view) if view is not None else None)


def submitted(annotation_id: str) -> pb.SubmitAnnotationResponse:
    return pb.SubmitAnnotationResponse(annotation_id=annotation_id)


def accepted(annotation_id: str) -> pb.AcceptSuggestionsResponse:
    return pb.AcceptSuggestionsResponse(annotation_id=annotation_id)


def item_annotation(stored: StoredAnnotation) -> pb.ItemAnnotation:
    shown = pb.ItemAnnotation(
        annotation_id=stored.annotation_id,
        task_id=stored.task_id,
        annotator=stored.annotator,
        source=ANNOTATION_SOURCES[stored.source],
        labels=stored.labels,
        decision=ANNOTATION_DECISIONS[stored.decision]
        if stored.decision is not None
        else pb.ANNOTATION_DECISION_UNSPECIFIED,
        rule_version=stored.rule_version,
        origin=stored.origin,
        origin_annotator=stored.origin_annotator,
        origin_id=stored.origin_id,
    )
    if stored.created_at is not None:
        shown.created_at.CopyFrom(_timestamp(stored.created_at))
    if stored.origin_created_at is not None:
        shown.origin_created_at.CopyFrom(_timestamp(stored.origin_created_at))
    return shown


def _timestamp(at: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


def item_annotations(stored: Iterable[StoredAnnotation]) -> pb.ItemAnnotations:
    return pb.ItemAnnotations(annotations=[item_annotation(a) for a in stored])
