"""The review service's MongoDB collections.

- `items`: each item's way through the review pipeline (pipeline.ItemState)
- `review_tasks`: review and adjudication tasks, the reviewers' queue
- `decisions`: every ReviewDecided, for an item's history
- `reviewer_decisions`: reviewers' and adjudicators' decisions, settled against final labels
- `scores`: one quality score per annotation; `annotations`: review's copy of each
- `annotators`: gold tally and flag per project annotator
- `gold`: known answers; `policies`: each project's review policy, every version kept
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, InsertOne, ReplaceOne, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.labels import labels_from_json, labels_to_json
from labelmesh.core.mongo import Document, Transaction
from labelmesh.core.projects import ProjectViews
from labelmesh.review.pipeline import ItemState, ReviewTaskSpec, Score, Submission
from labelmesh.v1.events_pb2 import AnnotationCandidate, ReviewDecided, ReviewPolicy
from labelmesh.v1.geometry_pb2 import Label

OPEN, ASSIGNED, DECIDED, CANCELLED = "open", "assigned", "decided", "cancelled"


@dataclass(frozen=True)
class Window:
    """A report's scope: a project, a time window and optionally one person."""

    project_id: str
    since: datetime | None = None
    until: datetime | None = None
    user: str = ""


def now() -> datetime:
    return datetime.now(UTC)


def _labels(raw: Any) -> list[Label]:
    return labels_from_json(raw or [])


def _aware(moment: datetime | None) -> datetime | None:
    """MongoDB returns naive UTC datetimes."""
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


def item_to_document(item: ItemState) -> Document:
    return {
        "_id": item.item_id,
        "project_id": item.project_id,
        "state": item.state,
        "round": item.round,
        "expected": item.expected,
        "submissions": [
            {
                "annotation_id": s.annotation_id,
                "annotator": s.annotator,
                "task_id": s.task_id,
                "labels": labels_to_json(s.labels),
                "suggestion": labels_to_json(s.suggestion),
                "seconds_spent": s.seconds_spent,
                "round": s.round,
                "submitted_at": s.submitted_at,
            }
            for s in item.submissions
        ],
        "labels": labels_to_json(item.labels),
        "agreement": item.agreement,
        "stage_index": item.stage_index,
        "review_task_id": item.review_task_id,
        "loops": item.loops,
        "flags": item.flags,
        "source": item.source,
        "reviewed_by_person": item.reviewed_by_person,
        "policy_version": item.policy_version,
        "updated_at": now(),
    }


def item_from_document(document: Document) -> ItemState:
    return ItemState(
        item_id=document["_id"],
        project_id=document["project_id"],
        state=document["state"],
        round=document["round"],
        expected=document["expected"],
        submissions=[
            Submission(
                annotation_id=s["annotation_id"],
                annotator=s["annotator"],
                task_id=s["task_id"],
                labels=_labels(s["labels"]),
                suggestion=_labels(s["suggestion"]),
                seconds_spent=s["seconds_spent"],
                round=s.get("round", 0),
                submitted_at=_aware(s.get("submitted_at")),
            )
            for s in document["submissions"]
        ],
        labels=_labels(document["labels"]),
        agreement=document["agreement"],
        stage_index=document["stage_index"],
        review_task_id=document["review_task_id"],
        loops=document["loops"],
        flags=list(document["flags"]),
        source=document["source"],
        reviewed_by_person=document["reviewed_by_person"],
        policy_version=document["policy_version"],
    )


def task_document(project_id: str, item_id: str, task: ReviewTaskSpec) -> Document:
    return {
        "_id": task.review_task_id,
        "project_id": project_id,
        "item_id": item_id,
        "kind": task.kind,
        "stage_index": task.stage_index,
        "stage": task.stage,
        "role": task.role,
        "team": task.team,
        "labels": labels_to_json(task.labels),
        "candidates": [
            {
                "annotation_id": c.annotation_id,
                "annotator": c.annotator,
                "labels": labels_to_json(c.labels),
            }
            for c in task.candidates
        ],
        "agreement": task.agreement,
        "reason": task.reason,
        "round": task.round,
        "annotators": task.annotators,
        "status": OPEN,
        "assignee": None,
        "created_at": now(),
    }


def candidates_of(document: Document) -> list[AnnotationCandidate]:
    return [
        AnnotationCandidate(
            annotation_id=c["annotation_id"], annotator=c["annotator"], labels=_labels(c["labels"])
        )
        for c in document["candidates"]
    ]


class ReviewRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.projects = ProjectViews(db)
        self.items = db["items"]
        self.review_tasks = db["review_tasks"]
        self.decisions = db["decisions"]
        self.reviewer_decisions = db["reviewer_decisions"]
        self.scores = db["scores"]
        self.annotations = db["annotations"]
        self.annotators = db["annotators"]
        self.gold = db["gold"]
        self.policies = db["policies"]

    async def ensure_indexes(self) -> None:
        await self.decisions.create_index([("item_id", ASCENDING), ("created_at", ASCENDING)])
        await self.review_tasks.create_index(
            [("project_id", ASCENDING), ("status", ASCENDING), ("created_at", ASCENDING)]
        )
        await self.reviewer_decisions.create_index(
            [("project_id", ASCENDING), ("decided_at", ASCENDING)]
        )
        await self.reviewer_decisions.create_index("item_id")
        await self.scores.create_index([("project_id", ASCENDING), ("scored_at", ASCENDING)])
        await self.scores.create_index(
            [("project_id", ASCENDING), ("annotator", ASCENDING), ("scored_at", DESCENDING)]
        )
        await self.annotations.create_index(
            [("project_id", ASCENDING), ("submitted_at", ASCENDING)]
        )
        await self.gold.create_index("project_id")

    # --- policies --------------------------------------------------------------------------

    async def policy(self, project_id: str) -> ReviewPolicy | None:
        document = await self.policies.find_one({"_id": f"{project_id}:current"})
        return ReviewPolicy.FromString(document["policy"]) if document else None

    async def save_policy(self, tx: Transaction, project_id: str, policy: ReviewPolicy) -> bool:
        """Store a policy version; False if that version (or a later one) is already stored."""
        key = f"{project_id}:current"
        current = await self.policies.find_one({"_id": key}, {"version": 1}, session=tx.session)
        if current is not None and current["version"] >= policy.version:
            return False
        stored = {"project_id": project_id, "version": policy.version}
        stored["policy"] = policy.SerializeToString()
        await self.policies.replace_one({"_id": key}, stored, upsert=True, session=tx.session)
        history = {"_id": f"{project_id}:v{policy.version}", **stored, "at": now()}
        await self.policies.insert_one(history, session=tx.session)
        return True

    # --- items -----------------------------------------------------------------------------

    async def load_items(self, tx: Transaction, item_ids: Iterable[str]) -> dict[str, ItemState]:
        cursor = self.items.find({"_id": {"$in": list(set(item_ids))}}, session=tx.session)
        return {d["_id"]: item_from_document(d) async for d in cursor}

    async def get_item(self, item_id: str, tx: Transaction | None = None) -> ItemState | None:
        document = await self.items.find_one({"_id": item_id}, session=tx.session if tx else None)
        return item_from_document(document) if document else None

    async def save_items(self, tx: Transaction, items: Iterable[ItemState]) -> None:
        writes = [
            ReplaceOne({"_id": item.item_id}, item_to_document(item), upsert=True) for item in items
        ]
        if writes:
            await self.items.bulk_write(writes, ordered=False, session=tx.session)

    async def completed_items_of(self, project_id: str, annotator: str, limit: int) -> list[str]:
        """The annotator's most recent items that reached a final label."""
        cursor = (
            self.scores.find(
                {"project_id": project_id, "annotator": annotator, "gold": False},
                {"item_id": 1},
            )
            .sort("scored_at", DESCENDING)
            .limit(limit)
        )
        return list(dict.fromkeys([d["item_id"] async for d in cursor]))

    # --- review tasks ----------------------------------------------------------------------

    async def insert_tasks(self, tx: Transaction, documents: Sequence[Document]) -> None:
        if documents:
            await self.review_tasks.insert_many(list(documents), session=tx.session)

    async def cancel_task(self, task_id: str) -> None:
        """A task whose item moved on (completed, or sent back) can no longer be decided."""
        await self.review_tasks.update_one(
            {"_id": task_id, "status": {"$in": [OPEN, ASSIGNED]}},
            {"$set": {"status": CANCELLED, "cancelled_at": now()}},
        )

    async def assigned_review_task(self, project_id: str, reviewer: str) -> Document | None:
        return await self.review_tasks.find_one(
            {"project_id": project_id, "status": ASSIGNED, "assignee": reviewer}
        )

    async def claim_review_task(
        self, project_id: str, reviewer: str, roles: Sequence[str], teams: Sequence[str]
    ) -> Document | None:
        """Assign the oldest open task the reviewer may take (never on their own work)."""
        return await self.review_tasks.find_one_and_update(
            {
                "project_id": project_id,
                "status": OPEN,
                "annotators": {"$ne": reviewer},
                "$or": [{"role": {"$in": list(roles)}}, {"team": {"$in": list(teams)}}],
            },
            {"$set": {"status": ASSIGNED, "assignee": reviewer, "assigned_at": now()}},
            sort=[("created_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )

    async def get_review_task(self, task_id: str, tx: Transaction | None = None) -> Document | None:
        return await self.review_tasks.find_one(
            {"_id": task_id}, session=tx.session if tx else None
        )

    async def close_review_task(self, tx: Transaction, task_id: str, reviewer: str) -> bool:
        result = await self.review_tasks.update_one(
            {"_id": task_id, "status": {"$in": [OPEN, ASSIGNED]}},
            {"$set": {"status": DECIDED, "assignee": reviewer, "decided_at": now()}},
            session=tx.session,
        )
        return result.modified_count == 1

    # --- decisions -------------------------------------------------------------------------

    async def insert_decisions(
        self, tx: Transaction, decisions: Sequence[tuple[str, str, ReviewDecided]]
    ) -> None:
        """Store (project id, item id, decision) rows."""
        if decisions:
            at = now()
            await self.decisions.insert_many(
                [
                    {
                        "_id": d.review_id,
                        "project_id": project_id,
                        "item_id": item_id,
                        "annotation_id": d.annotation_id,
                        "review": d.SerializeToString(),
                        "created_at": at,
                    }
                    for project_id, item_id, d in decisions
                ],
                session=tx.session,
            )

    async def decisions_of_item(self, item_id: str) -> list[ReviewDecided]:
        documents = (
            await self.decisions.find({"item_id": item_id}).sort("created_at", 1).to_list(None)
        )
        return [ReviewDecided.FromString(d["review"]) for d in documents]

    async def record_reviewer_decision(
        self,
        tx: Transaction,
        task: Document,
        reviewer: str,
        approved: bool,
        labels: Sequence[Label],
    ) -> None:
        await self.reviewer_decisions.insert_one(
            {
                "_id": task["_id"],
                "project_id": task["project_id"],
                "item_id": task["item_id"],
                "reviewer": reviewer,
                "stage": task["stage"],
                "approved": approved,
                "labels": labels_to_json(labels),
                "decided_at": now(),
                "settled": False,
                "matches_final": None,
                "overturned": None,
            },
            session=tx.session,
        )

    async def unsettled_decisions(
        self, tx: Transaction, item_ids: Sequence[str]
    ) -> dict[str, list[Document]]:
        """Each item's decisions not yet compared with its final labels, oldest first."""
        cursor = self.reviewer_decisions.find(
            {"item_id": {"$in": list(item_ids)}, "settled": False}, session=tx.session
        ).sort("decided_at", ASCENDING)
        by_item: dict[str, list[Document]] = {}
        async for document in cursor:
            by_item.setdefault(document["item_id"], []).append(document)
        return by_item

    async def settle_decisions(
        self, tx: Transaction, outcomes: Sequence[tuple[str, bool, bool]]
    ) -> None:
        """(decision id, matches the final labels, overturned by a later person)."""
        writes = [
            UpdateOne(
                {"_id": decision_id},
                {"$set": {"settled": True, "matches_final": matches, "overturned": overturned}},
            )
            for decision_id, matches, overturned in outcomes
        ]
        if writes:
            await self.reviewer_decisions.bulk_write(writes, session=tx.session)

    # --- scores and annotations ------------------------------------------------------------

    async def save_scores(self, tx: Transaction, scores: Sequence[tuple[str, str, Score]]) -> None:
        """Store (project id, item id, score) rows; a new score replaces the old one."""
        at = now()
        writes = [
            ReplaceOne(
                {"_id": s.annotation_id},
                {
                    "_id": s.annotation_id,
                    "project_id": project_id,
                    "item_id": item_id,
                    "annotator": s.annotator,
                    "round": s.round,
                    "agreement": s.agreement,
                    "reference": s.reference,
                    "gold": s.gold,
                    "gold_correct": bool(s.gold and s.correct),
                    "correct": s.correct,
                    "score": s.agreement,
                    "seconds_spent": s.seconds_spent,
                    "submitted_at": s.submitted_at,
                    "scored_at": at,
                },
                upsert=True,
            )
            for project_id, item_id, s in scores
        ]
        if writes:
            await self.scores.bulk_write(writes, ordered=False, session=tx.session)

    async def insert_annotations(self, tx: Transaction, documents: Sequence[Document]) -> None:
        if documents:
            await self.annotations.bulk_write(
                [InsertOne(d) for d in documents], ordered=False, session=tx.session
            )

    async def scores_in(self, window: Window) -> list[Document]:
        return await self._in_window(self.scores, "scored_at", "annotator", window)

    async def reviewer_decisions_in(self, window: Window) -> list[Document]:
        return await self._in_window(self.reviewer_decisions, "decided_at", "reviewer", window)

    async def annotations_in(self, window: Window) -> list[Document]:
        return await self._in_window(self.annotations, "submitted_at", "annotator", window)

    @staticmethod
    async def _in_window(
        collection: AsyncCollection[Document], at: str, who: str, window: Window
    ) -> list[Document]:
        query: Document = {"project_id": window.project_id}
        bounds = {}
        if window.since is not None:
            bounds["$gte"] = window.since
        if window.until is not None:
            bounds["$lt"] = window.until
        if bounds:
            query[at] = bounds
        if window.user:
            query[who] = window.user
        return await collection.find(query).sort(at, ASCENDING).to_list(None)

    # --- annotators and gold ---------------------------------------------------------------

    async def annotator_records(self, project_id: str) -> list[Document]:
        return await self.annotators.find({"project_id": project_id}).to_list(None)

    async def count_gold(
        self, tx: Transaction, project_id: str, tally: dict[str, tuple[int, int]]
    ) -> list[Document]:
        """Add (answers, correct) per annotator; returns their records after the update."""
        records = []
        for annotator, (answers, correct) in tally.items():
            record = await self.annotators.find_one_and_update(
                {"_id": f"{project_id}\x00{annotator}"},
                {
                    "$inc": {"gold_answers": answers, "gold_correct": correct},
                    "$setOnInsert": {
                        "project_id": project_id,
                        "annotator": annotator,
                        "flagged": False,
                    },
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
                session=tx.session,
            )
            assert record is not None  # upserted
            records.append(record)
        return records

    async def mark_flagged(self, tx: Transaction, project_id: str, annotator: str) -> None:
        await self.annotators.update_one(
            {"_id": f"{project_id}\x00{annotator}"},
            {"$set": {"flagged": True, "flagged_at": now()}},
            session=tx.session,
        )

    async def gold_answers(
        self, tx: Transaction, item_ids: Iterable[str]
    ) -> dict[str, list[Label]]:
        cursor = self.gold.find({"_id": {"$in": list(set(item_ids))}}, session=tx.session)
        return {d["_id"]: _labels(d["labels"]) async for d in cursor}

    async def save_gold(
        self, tx: Transaction, project_id: str, item_id: str, labels: Sequence[Label], user: str
    ) -> None:
        await self.gold.replace_one(
            {"_id": item_id},
            {
                "_id": item_id,
                "project_id": project_id,
                "labels": labels_to_json(labels),
                "set_by": user,
                "set_at": now(),
            },
            upsert=True,
            session=tx.session,
        )
