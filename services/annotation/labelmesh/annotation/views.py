"""A task as the people who see it are shown it."""

from __future__ import annotations

from dataclasses import dataclass

from labelmesh.annotation.queue import presented, visible_suggestion
from labelmesh.annotation.records import Task, TaskStatus
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
    status: TaskStatus
    assignee: str
    assignees: list[str]


def task_view(task: Task, viewer: str = "") -> TaskView:
    """The task as `viewer` (an annotator asking about their own task) sees it;
    without a viewer, as its only holder would."""
    shown = presented(task, viewer)
    model = ModelRef()
    model.CopyFrom(task.suggestion_model)
    return TaskView(
        task_id=task.task_id,
        project_id=task.project_id,
        item_id=task.item_id,
        data_type=task.data_type,
        text=task.text,
        media_key=task.media_key,
        suggestion=visible_suggestion(task, viewer or shown.assignee),
        suggestion_model=model,
        status=shown.status,
        assignee=shown.assignee,
        assignees=shown.assignees,
    )
