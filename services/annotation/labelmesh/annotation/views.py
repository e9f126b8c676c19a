"""A task as the people who see it are shown it."""

from __future__ import annotations

from dataclasses import dataclass

from labelmesh.annotation.queue import presented, visible_suggestion
from labelmesh.core.labels import labels_from_json
from labelmesh.core.mongo import Document
from labelmesh.v1.events_pb2 import ModelRef
from labelmesh.v1.geometry_pb2 import Label


@dataclass(frozen=True)
class TaskView:
    """A task as an annotator sees it: the same fields for every task, gold or not."""

    task_id: str
    project_id: str
    item_id: str
    data_type: int
    text: str
    media_key: str
    suggestion: list[Label]
    suggestion_model: ModelRef
    status: str
    assignee: str
    assignees: list[str]


def task_view(document: Document, viewer: str = "") -> TaskView:
    """The task as `viewer` (an annotator asking about their own task) sees it;
    without a viewer, as its only holder would."""
    model = document.get("suggestion_model") or {}
    shown = presented(document, viewer)
    return TaskView(
        task_id=document["_id"],
        project_id=document["project_id"],
        item_id=document["item_id"],
        data_type=document.get("data_type", 0),
        text=document.get("text", ""),
        media_key=document.get("media_key", ""),
        suggestion=labels_from_json(visible_suggestion(document, viewer or shown.assignee)),
        suggestion_model=ModelRef(id=model.get("id", ""), version=model.get("version", "")),
        status=shown.status,
        assignee=shown.assignee,
        assignees=shown.assignees,
    )
