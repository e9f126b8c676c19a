"""Where each lane of a project's queue stands, and each annotator's progress, in MongoDB.

A lane is two small documents: its next free position (moved by the events
that queue tasks) and its head (moved by claims), apart so that the two kinds
of writer never conflict. Progress is one document per project and annotator.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.annotation.adapters.conflicts import created_meanwhile_is_a_conflict
from labelmesh.annotation.records import Lane, LaneState, Progress
from labelmesh.core.mongo import Document, session_of
from labelmesh.core.uow import Transaction


def _lane_id(project_id: str, lane: Lane, part: str) -> str:
    return f"{project_id}:{lane}:{part}"


def _progress_id(project_id: str, annotator: str) -> str:
    return f"{project_id}:{annotator}"


class MongoQueueStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.lane_documents = db["queue_lanes"]
        self.progress_documents = db["annotator_progress"]

    async def ensure_indexes(self) -> None:
        """Both are found by `_id` only."""

    async def lanes(self, tx: Transaction, project_id: str) -> dict[Lane, LaneState]:
        ids = [_lane_id(project_id, lane, part) for lane in Lane for part in ("next", "head")]
        found = self.lane_documents.find({"_id": {"$in": ids}}, session=session_of(tx))
        values = {d["_id"]: int(d["value"]) async for d in found}
        return {
            lane: LaneState(
                next=values.get(_lane_id(project_id, lane, "next"), 0),
                head=values.get(_lane_id(project_id, lane, "head"), 0),
            )
            for lane in Lane
        }

    async def reserve(self, tx: Transaction, project_id: str, lane: Lane, count: int) -> int:
        session = session_of(tx)
        key = _lane_id(project_id, lane, "next")
        with created_meanwhile_is_a_conflict("a queue lane"):
            await self.lane_documents.update_one(
                {"_id": key}, {"$inc": {"value": count}}, upsert=True, session=session
            )
        document = await self.lane_documents.find_one({"_id": key}, session=session)
        assert document is not None  # written just above, in this transaction
        return int(document["value"]) - count

    async def advance(self, tx: Transaction, project_id: str, heads: dict[Lane, int]) -> None:
        if not heads:
            return
        with created_meanwhile_is_a_conflict("a queue lane"):
            await self.lane_documents.bulk_write(
                [
                    UpdateOne(
                        {"_id": _lane_id(project_id, lane, "head")},
                        {"$max": {"value": head}},
                        upsert=True,
                    )
                    for lane, head in heads.items()
                ],
                session=session_of(tx),
            )

    async def progress(
        self, tx: Transaction, project_id: str, annotators: Sequence[str]
    ) -> dict[str, Progress]:
        ids = [_progress_id(project_id, a) for a in annotators]
        found = self.progress_documents.find({"_id": {"$in": ids}}, session=session_of(tx))
        stored = {d["annotator"]: d async for d in found}
        return {a: _progress_from(stored.get(a)) for a in annotators}

    async def save_progress(
        self, tx: Transaction, project_id: str, progress: dict[str, Progress]
    ) -> None:
        if not progress:
            return
        with created_meanwhile_is_a_conflict("an annotator's progress"):
            await self.progress_documents.bulk_write(
                [
                    UpdateOne(
                        {"_id": _progress_id(project_id, annotator)},
                        {
                            "$set": {
                                "project_id": project_id,
                                "annotator": annotator,
                                "tasks_taken": p.tasks_taken,
                                "gold_taken": p.gold_taken,
                                "regular_cursor": p.regular_cursor,
                                "gold_cursor": p.gold_cursor,
                            }
                        },
                        upsert=True,
                    )
                    for annotator, p in progress.items()
                ],
                session=session_of(tx),
            )


def _progress_from(document: Document | None) -> Progress:
    if document is None:
        return Progress()
    return Progress(
        tasks_taken=int(document.get("tasks_taken", 0)),
        gold_taken=int(document.get("gold_taken", 0)),
        regular_cursor=int(document.get("regular_cursor", 0)),
        gold_cursor=int(document.get("gold_cursor", 0)),
    )
