"""Review policies in MongoDB: the current version per project, and every version."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from labelmesh.core.mongo import Document, session_of
from labelmesh.core.uow import Transaction
from labelmesh.review.adapters.documents import conflict_on_duplicate, now
from labelmesh.v1.events_pb2 import ReviewPolicy


class MongoPolicyRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.policies = db["policies"]

    async def ensure_indexes(self) -> None:
        return None  # read by id only

    async def current(self, project_id: str) -> ReviewPolicy | None:
        document = await self.policies.find_one({"_id": f"{project_id}:current"})
        return ReviewPolicy.FromString(document["policy"]) if document else None

    async def save(self, tx: Transaction, project_id: str, policy: ReviewPolicy) -> bool:
        session = session_of(tx)
        key = f"{project_id}:current"
        current = await self.policies.find_one({"_id": key}, {"version": 1}, session=session)
        if current is not None and current["version"] >= policy.version:
            return False
        stored = {"project_id": project_id, "version": policy.version}
        stored["policy"] = policy.SerializeToString()
        await self.policies.replace_one({"_id": key}, stored, upsert=True, session=session)
        history = {"_id": f"{project_id}:v{policy.version}", **stored, "at": now()}
        try:
            await self.policies.insert_one(history, session=session)
        except DuplicateKeyError as exc:
            raise (
                conflict_on_duplicate(exc, f"version {policy.version} of the policy") or exc
            ) from exc
        return True
