"""The task updates events cause, built for one ordered bulk write.

A task document carries the item's details too (taken from ItemIngested), so
that ItemIngested, PredictionCreated and GoldStandardSet can arrive in any
order: each upserts the same document by item id, and whichever comes first
creates it with the overlap in force at that moment.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne

from labelmesh.annotation.records import (
    ItemArrived,
    ItemClosed,
    MarkedGold,
    SuggestionAttached,
    SuggestionsAdded,
    TaskChange,
    TaskStatus,
    WorkApproved,
)
from labelmesh.core.labels import labels_to_json

PENDING, OPEN, ASSIGNED = TaskStatus.PENDING, TaskStatus.OPEN, TaskStatus.ASSIGNED
SUBMITTED, COMPLETED = TaskStatus.SUBMITTED, TaskStatus.COMPLETED

NOT_GOLD = {"gold": {"$ne": True}}


def _now() -> datetime:
    return datetime.now(UTC)


def new_task(overlap: int) -> dict[str, Any]:
    """The fields a task starts with; `overlap` slots in round 0."""
    return {
        "_id": str(uuid.uuid4()),
        "created_at": _now(),
        "rework_count": 0,
        "overlap": overlap,
        "round": 0,
        "open_slots": overlap,
        "takers": [],
        "assigned": [],
        "submitted": [],
        "assigned_at": [],
        "dismissed": [],
    }


def item_update(change: ItemArrived) -> UpdateOne:
    """Fill in the item's details on its task, creating the task if needed."""
    return UpdateOne(
        {"item_id": change.item_id},
        {
            "$set": {
                "project_id": change.project_id,
                "data_type": change.data_type,
                "text": change.text,
                "media_key": change.media_key,
                "item_ready": True,
            },
            "$setOnInsert": {**new_task(change.overlap), "status": PENDING, "gold": False},
        },
        upsert=True,
    )


def suggestion_update(change: SuggestionAttached) -> UpdateOne:
    """Attach a model suggestion to the item's task and set its status."""
    return UpdateOne(
        {"item_id": change.item_id},
        {
            "$set": {
                "project_id": change.project_id,
                "status": str(change.status),
                "suggestion": labels_to_json(change.labels),
                "suggestion_model": {"id": change.model.id, "version": change.model.version},
                "prediction_error": change.prediction_error,
                "updated_at": _now(),
            },
            "$setOnInsert": {**new_task(change.overlap), "item_ready": False, "gold": False},
        },
        upsert=True,
    )


def gold_update(change: MarkedGold) -> UpdateOne:
    """Make the item's task a gold task, creating it if the item is not known yet."""
    return UpdateOne(
        {"item_id": change.item_id},
        {
            "$set": {"project_id": change.project_id, "gold": True, "updated_at": _now()},
            "$setOnInsert": {**new_task(change.overlap), "status": PENDING, "item_ready": False},
        },
        upsert=True,
    )


def assist_update(change: SuggestionsAdded) -> UpdateOne:
    """Add on-demand suggestions to a task that still waits for a person."""
    return UpdateOne(
        {"item_id": change.item_id, "status": {"$in": [PENDING, OPEN, ASSIGNED]}},
        {
            "$push": {"suggestion": {"$each": labels_to_json(change.labels)}},
            "$set": {"updated_at": _now()},
        },
    )


def complete_update(change: WorkApproved) -> UpdateOne:
    """Approved work closes a regular task."""
    return UpdateOne(
        {"_id": change.task_id, **NOT_GOLD}, {"$set": {"status": COMPLETED, "updated_at": _now()}}
    )


def item_completed_update(change: ItemClosed) -> UpdateOne:
    """An item with final labels closes its task, even when every annotation was overruled
    (so that none was approved)."""
    return UpdateOne(
        {"item_id": change.item_id, **NOT_GOLD, "status": {"$in": [OPEN, ASSIGNED, SUBMITTED]}},
        {"$set": {"status": COMPLETED, "updated_at": _now()}},
    )


def update_of(change: TaskChange) -> UpdateOne:
    """The MongoDB update that makes a task change."""
    match change:
        case ItemArrived():
            return item_update(change)
        case SuggestionAttached():
            return suggestion_update(change)
        case MarkedGold():
            return gold_update(change)
        case SuggestionsAdded():
            return assist_update(change)
        case WorkApproved():
            return complete_update(change)
        case ItemClosed():
            return item_completed_update(change)


def reopen_filter(task_id: str, round_: int) -> dict[str, Any]:
    """A rejection reopens the round it decides, once; a stale round matches nothing."""
    return {"_id": task_id, "round": round_, **NOT_GOLD}


def reopen_pipeline() -> list[dict[str, Any]]:
    """The next round: every slot free again, whatever the task's status was."""
    empty: dict[str, Any] = {"$literal": []}
    return [
        {
            "$set": {
                "status": OPEN,
                "round": {"$add": ["$round", 1]},
                "open_slots": "$overlap",
                "takers": empty,
                "assigned": empty,
                "submitted": empty,
                "assigned_at": empty,
                "rework_count": {"$add": ["$rework_count", 1]},
                "updated_at": {"$literal": _now()},
            }
        }
    ]
