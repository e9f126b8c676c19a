"""Review's copy of the memberships in MongoDB, one document per membership."""

from __future__ import annotations

import asyncio
from datetime import UTC

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.documents import aware, from_document, to_document
from labelmesh.core.mongo import Document, session_of
from labelmesh.core.uow import Transaction
from labelmesh.review.records import MemberRecord, member_ids


def _member_of(document: Document) -> MemberRecord:
    return from_document(
        MemberRecord,
        document,
        None,
        roles=tuple(document["roles"]),
        teams=tuple(document["teams"]),
        changed_at=aware(document["changed_at"]),
    )


class MongoMemberRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.members = db["members"]

    async def ensure_indexes(self) -> None:
        await self.members.create_index(
            [("organization_id", ASCENDING), ("project_id", ASCENDING), ("subject", ASCENDING)]
        )

    async def apply(self, tx: Transaction, member: MemberRecord) -> bool:
        session = session_of(tx)
        stored = await self.members.find_one(
            {"_id": member.member_id}, {"changed_at": 1}, session=session
        )
        if stored is not None and stored["changed_at"].replace(tzinfo=UTC) > member.changed_at:
            return False
        document = {"_id": member.member_id, **to_document(member, None)}
        await self.members.replace_one(
            {"_id": member.member_id}, document, upsert=True, session=session
        )
        return True

    async def in_project(self, organization_id: str, project_id: str) -> list[MemberRecord]:
        # Two equality queries on the index, never one with $in or $or (see "Hot paths").
        scopes = dict.fromkeys(("", project_id))
        found = await asyncio.gather(
            *(
                self.members.find({"organization_id": organization_id, "project_id": scope})
                .sort("subject", ASCENDING)
                .to_list()
                for scope in scopes
            )
        )
        return [_member_of(document) for documents in found for document in documents]

    async def of_subject(
        self, organization_id: str, project_id: str, subject: str
    ) -> list[MemberRecord]:
        ids = member_ids(organization_id, project_id, subject)
        found = await asyncio.gather(*(self.members.find_one({"_id": i}) for i in ids))
        return [_member_of(document) for document in found if document is not None]
