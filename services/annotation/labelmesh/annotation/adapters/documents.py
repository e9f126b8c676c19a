"""Task and annotation documents <-> records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from labelmesh.annotation.records import (
    UNQUEUED,
    AnnotationDecision,
    AnnotationSource,
    Dismissal,
    StoredAnnotation,
    Taken,
    Task,
    TaskStatus,
)
from labelmesh.core.labels import labels_from_json, labels_to_json
from labelmesh.core.mongo import Document
from labelmesh.v1.events_pb2 import ModelRef


def task_from_document(document: Document) -> Task:
    """A stored task as a record; fields a task stored before them lacks take their defaults."""
    model = document.get("suggestion_model") or {}
    return Task(
        task_id=document["_id"],
        item_id=document["item_id"],
        project_id=document.get("project_id", ""),
        status=TaskStatus(document["status"]),
        created_at=document.get("created_at") or datetime.now(UTC),
        gold=bool(document.get("gold")),
        item_ready=bool(document.get("item_ready")),
        data_type=int(document.get("data_type") or 0),
        text=document.get("text") or "",
        media_key=document.get("media_key") or "",
        overlap=int(document.get("overlap") or 1),
        round=int(document.get("round") or 0),
        open_slots=int(document.get("open_slots") or 0),
        rework_count=int(document.get("rework_count") or 0),
        takers=tuple(document.get("takers") or ()),
        assigned=tuple(document.get("assigned") or ()),
        submitted=tuple(document.get("submitted") or ()),
        assigned_at=tuple(
            Taken(entry["annotator"], entry["at"]) for entry in document.get("assigned_at") or ()
        ),
        dismissed=tuple(
            Dismissal(entry["annotator"], entry["suggestion_id"])
            for entry in document.get("dismissed") or ()
        ),
        suggestion=tuple(labels_from_json(document.get("suggestion") or [])),
        suggestion_model=ModelRef(id=model.get("id", ""), version=model.get("version", "")),
        prediction_error=document.get("prediction_error") or "",
        position=int(document.get("position", UNQUEUED)),
        item_deleted=bool(document.get("item_deleted")),
    )


def task_document(task: Task) -> Document:
    """The stored form of a task; `lane` and `position` place it in its project's queue."""
    return {
        "_id": task.task_id,
        "item_id": task.item_id,
        "project_id": task.project_id,
        "status": str(task.status),
        "created_at": task.created_at,
        "gold": task.gold,
        "item_ready": task.item_ready,
        "data_type": task.data_type,
        "text": task.text,
        "media_key": task.media_key,
        "overlap": task.overlap,
        "round": task.round,
        "open_slots": task.open_slots,
        "rework_count": task.rework_count,
        "takers": list(task.takers),
        "assigned": list(task.assigned),
        "submitted": list(task.submitted),
        "assigned_at": [{"annotator": t.annotator, "at": t.at} for t in task.assigned_at],
        "dismissed": [
            {"annotator": d.annotator, "suggestion_id": d.suggestion_id} for d in task.dismissed
        ],
        "suggestion": labels_to_json(task.suggestion),
        "suggestion_model": {
            "id": task.suggestion_model.id,
            "version": task.suggestion_model.version,
        },
        "prediction_error": task.prediction_error,
        "lane": str(task.lane),
        "position": task.position,
        "item_deleted": task.item_deleted,
    }


def annotation_document(annotation: StoredAnnotation, created_at: datetime) -> Document:
    """The stored form: a person's work has a round, a model's its decision and rule."""
    document: dict[str, Any] = {
        "_id": annotation.annotation_id,
        "task_id": annotation.task_id,
        "item_id": annotation.item_id,
        "project_id": annotation.project_id,
        "annotator": annotation.annotator,
        "source": str(annotation.source),
        "labels": labels_to_json(annotation.labels),
        "created_at": created_at,
    }
    if annotation.round is not None:
        document["round"] = annotation.round
    if annotation.origin:
        document.update(
            origin=annotation.origin,
            origin_annotator=annotation.origin_annotator,
            origin_created_at=annotation.origin_created_at,
            origin_id=annotation.origin_id,
        )
    if annotation.decision is not None:
        document.update(
            threshold=annotation.threshold,
            decision=str(annotation.decision),
            rule_version=annotation.rule_version,
            prediction_id=annotation.prediction_id,
        )
    return document


def annotation_from_document(document: Document) -> StoredAnnotation:
    decision = document.get("decision")
    return StoredAnnotation(
        annotation_id=document["_id"],
        task_id=document["task_id"],
        item_id=document["item_id"],
        project_id=document.get("project_id", ""),
        annotator=document["annotator"],
        source=AnnotationSource(document["source"]),
        labels=tuple(labels_from_json(document.get("labels") or [])),
        round=document.get("round"),
        decision=AnnotationDecision(decision) if decision else None,
        threshold=document.get("threshold"),
        rule_version=int(document.get("rule_version") or 0),
        prediction_id=document.get("prediction_id") or "",
        created_at=document.get("created_at"),
        origin=document.get("origin") or "",
        origin_annotator=document.get("origin_annotator") or "",
        origin_created_at=document.get("origin_created_at"),
        origin_id=document.get("origin_id") or "",
    )
