"""Taking, submitting and counting tasks: each step is one atomic update of
one task document (an update pipeline computes the new status in the same
step), so concurrent annotators and replicas never share a slot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.annotation.adapters.documents import task_from_document
from labelmesh.annotation.adapters.task_updates import NOT_GOLD
from labelmesh.annotation.queue import STATUSES
from labelmesh.annotation.records import GOLD, Progress, Task, TaskStatus
from labelmesh.core.mongo import Document, session_of
from labelmesh.core.uow import Transaction

PENDING, OPEN, ASSIGNED = TaskStatus.PENDING, TaskStatus.OPEN, TaskStatus.ASSIGNED
SUBMITTED = TaskStatus.SUBMITTED

OLDEST_FIRST = [("created_at", ASCENDING)]
# A regular task's status follows from its slots; a gold task keeps its own.
STATUS_FROM_SLOTS = {
    "$cond": [
        {"$eq": ["$gold", True]},
        "$status",
        {
            "$cond": [
                {"$gt": ["$open_slots", 0]},
                OPEN,
                {"$cond": [{"$gt": [{"$size": "$assigned"}, 0]}, ASSIGNED, SUBMITTED]},
            ]
        },
    ]
}


def _literal(value: Any) -> dict[str, Any]:
    """A value in an update pipeline, never read as a field path ("$...")."""
    return {"$literal": value}


def _appended(field: str, value: Any) -> dict[str, Any]:
    return {"$concatArrays": [f"${field}", [value]]}


def _take(annotator: str, now: datetime, *, slot: bool) -> list[dict[str, Any]]:
    who = _literal(annotator)
    taken: dict[str, Any] = {
        "takers": _appended("takers", who),
        "assigned": _appended("assigned", who),
        "assigned_at": _appended("assigned_at", {"annotator": who, "at": _literal(now)}),
        "updated_at": _literal(now),
    }
    if slot:
        taken["open_slots"] = {"$subtract": ["$open_slots", 1]}
    return [{"$set": taken}, {"$set": {"status": STATUS_FROM_SLOTS}}]


class MongoTaskQueue:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.tasks = db["tasks"]
        # Per (project, annotator): tasks and gold tasks taken, for gold mixing.
        self.progress = db["annotator_progress"]

    async def ensure_indexes(self) -> None:
        await self.tasks.create_index("assigned")
        await self.tasks.create_index(
            [("project_id", ASCENDING), ("created_at", ASCENDING)],
            name="gold_by_age",
            partialFilterExpression={"gold": True},
        )

    async def current_task(self, project_id: str, annotator: str) -> Task | None:
        """The task the annotator works on now, if any."""
        return _task(
            await self.tasks.find_one(
                {
                    "project_id": project_id,
                    "assigned": annotator,
                    "$or": [{"gold": True}, {"status": {"$in": [OPEN, ASSIGNED]}}],
                }
            )
        )

    async def claim_regular(self, project_id: str, annotator: str) -> Task | None:
        """Take a slot of the oldest open task the annotator has not taken this round."""
        return _task(
            await self.tasks.find_one_and_update(
                {
                    "project_id": project_id,
                    "status": OPEN,
                    "item_ready": True,
                    "open_slots": {"$gt": 0},
                    "takers": {"$ne": annotator},
                    **NOT_GOLD,
                },
                _take(annotator, datetime.now(UTC), slot=True),
                sort=OLDEST_FIRST,
                return_document=ReturnDocument.AFTER,
            )
        )

    async def claim_gold(self, project_id: str, annotator: str) -> Task | None:
        """Take the oldest gold task the annotator has never answered."""
        return _task(
            await self.tasks.find_one_and_update(
                {
                    "project_id": project_id,
                    "gold": True,
                    "item_ready": True,
                    "status": {"$ne": PENDING},
                    "takers": {"$ne": annotator},
                },
                _take(annotator, datetime.now(UTC), slot=False),
                sort=OLDEST_FIRST,
                return_document=ReturnDocument.AFTER,
            )
        )

    async def progress_of(self, project_id: str, annotator: str) -> Progress:
        """Tasks and gold tasks taken by the annotator in the project."""
        document = await self.progress.find_one({"_id": f"{project_id}:{annotator}"})
        if document is None:
            return Progress()
        return Progress(int(document["tasks_taken"]), int(document["gold_taken"]))

    async def count_taken(self, project_id: str, annotator: str, *, gold: bool) -> None:
        await self.progress.update_one(
            {"_id": f"{project_id}:{annotator}"},
            {
                "$inc": {"tasks_taken": 1, "gold_taken": int(gold)},
                "$setOnInsert": {"project_id": project_id, "annotator": annotator},
            },
            upsert=True,
        )

    async def hand_in(
        self, tx: Transaction, task_id: str, annotator: str, *, direct: bool
    ) -> Task | None:
        """Move the annotator from working to submitted; returns the task as it was.

        `direct` takes the only slot of an untaken overlap-1 task and submits
        in the same step. None if the annotator may not submit (any more).
        """
        now = datetime.now(UTC)
        who = _literal(annotator)
        moved: dict[str, Any] = {
            "submitted": _appended("submitted", who),
            "submitted_at": _literal(now),
            "updated_at": _literal(now),
        }
        if direct:
            condition: dict[str, Any] = {
                "status": OPEN,
                "overlap": 1,
                "open_slots": {"$gt": 0},
                "assigned": {"$size": 0},
                **NOT_GOLD,
            }
            moved["open_slots"] = {"$subtract": ["$open_slots", 1]}
            moved["takers"] = _appended("takers", who)
        else:
            condition = {
                "assigned": annotator,
                "$or": [{"gold": True}, {"status": {"$in": [OPEN, ASSIGNED]}}],
            }
            moved["assigned"] = {
                "$filter": {
                    "input": "$assigned",
                    "as": "holder",
                    "cond": {"$ne": ["$$holder", who]},
                }
            }
        return _task(
            await self.tasks.find_one_and_update(
                {"_id": task_id, **condition},
                [{"$set": moved}, {"$set": {"status": STATUS_FROM_SLOTS}}],
                return_document=ReturnDocument.BEFORE,
                session=session_of(tx),
            )
        )

    async def dismiss_suggestion(
        self, tx: Transaction, task_id: str, annotator: str, suggestion_id: str
    ) -> bool:
        """Hide a suggestion from the annotator; False if they no longer work on the task."""
        result = await self.tasks.update_one(
            {
                "_id": task_id,
                "$or": [
                    {"assigned": annotator},
                    {"status": OPEN, "overlap": 1, "assigned": {"$size": 0}, **NOT_GOLD},
                ],
            },
            {
                "$push": {"dismissed": {"annotator": annotator, "suggestion_id": suggestion_id}},
                "$set": {"updated_at": datetime.now(UTC)},
            },
            session=session_of(tx),
        )
        return result.modified_count == 1

    async def stats(self, project_id: str) -> dict[str, int]:
        """Regular tasks by status, and gold tasks."""
        counts = {str(status): 0 for status in (*STATUSES, GOLD)}
        cursor = await self.tasks.aggregate(
            [
                {"$match": {"project_id": project_id}},
                {"$group": {"_id": {"status": "$status", "gold": "$gold"}, "n": {"$sum": 1}}},
            ]
        )
        async for group in cursor:
            key = GOLD if group["_id"].get("gold") is True else group["_id"].get("status")
            if key in counts:
                counts[key] += int(group["n"])
        return counts


def _task(document: Document | None) -> Task | None:
    return task_from_document(document) if document is not None else None
