"""The annotation service's MongoDB collections: projects, tasks, annotations.

How events change tasks is in `task_updates`; how people take and submit
them, in `task_queue`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.annotation.adapters.task_updates import reopen_filter, reopen_pipeline
from labelmesh.core import review_policy
from labelmesh.core.mongo import Document, Transaction
from labelmesh.v1.events_pb2 import ProjectSpec, ReviewPolicy


def _now() -> datetime:
    return datetime.now(UTC)


class AnnotationRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.projects = db["projects"]
        self.tasks = db["tasks"]
        self.annotations = db["annotations"]

    async def ensure_indexes(self) -> None:
        await self.tasks.create_index("item_id", unique=True)
        await self.tasks.create_index(
            [("project_id", ASCENDING), ("status", ASCENDING), ("created_at", ASCENDING)]
        )
        await self.annotations.create_index("item_id")

    async def insert_project(self, tx: Transaction, project: ProjectSpec) -> None:
        await self.projects.insert_one(
            {"_id": project.project_id, "spec": project.SerializeToString(), "created_at": _now()},
            session=tx.session,
        )

    async def get_project(self, project_id: str) -> ProjectSpec | None:
        document = await self.projects.find_one({"_id": project_id})
        return ProjectSpec.FromString(document["spec"]) if document else None

    async def overlaps(self, tx: Transaction, project_ids: Iterable[str]) -> dict[str, int]:
        """The overlap in force in each project; projects not found are left out."""
        cursor = self.projects.find({"_id": {"$in": list(set(project_ids))}}, session=tx.session)
        return {
            d["_id"]: review_policy.overlap(ProjectSpec.FromString(d["spec"]).review_policy)
            async for d in cursor
        }

    async def update_review_policy(
        self, tx: Transaction, project_id: str, policy: ReviewPolicy
    ) -> bool:
        """Keep a newer version of the project's review policy; False if not newer or no project."""
        document = await self.projects.find_one({"_id": project_id}, session=tx.session)
        if document is None:
            return False
        project = ProjectSpec.FromString(document["spec"])
        if policy.version <= project.review_policy.version:
            return False
        project.review_policy.CopyFrom(policy)
        await self.projects.update_one(
            {"_id": project_id},
            {"$set": {"spec": project.SerializeToString(), "updated_at": _now()}},
            session=tx.session,
        )
        return True

    async def write_tasks(self, tx: Transaction, updates: list[UpdateOne]) -> None:
        """Apply task updates in order, in one round trip."""
        if updates:
            await self.tasks.bulk_write(updates, ordered=True, session=tx.session)

    async def reopen(self, tx: Transaction, task_id: str, round_: int) -> bool:
        """Start the next round of a rejected task; False if that round is already over."""
        result = await self.tasks.update_one(
            reopen_filter(task_id, round_), reopen_pipeline(), session=tx.session
        )
        return result.modified_count == 1

    async def task_ids(self, tx: Transaction, item_ids: Sequence[str]) -> dict[str, str]:
        cursor = self.tasks.find(
            {"item_id": {"$in": list(item_ids)}}, {"item_id": 1}, session=tx.session
        )
        return {d["item_id"]: d["_id"] async for d in cursor}

    async def get_task(self, task_id: str, tx: Transaction | None = None) -> Document | None:
        return await self.tasks.find_one({"_id": task_id}, session=tx.session if tx else None)

    async def insert_annotations(self, tx: Transaction, annotations: list[Document]) -> None:
        if annotations:
            now = _now()
            await self.annotations.insert_many(
                [{**a, "created_at": now} for a in annotations], session=tx.session
            )

    async def annotations_of_item(self, item_id: str) -> list[Document]:
        return await self.annotations.find({"item_id": item_id}).sort("created_at", 1).to_list(None)
