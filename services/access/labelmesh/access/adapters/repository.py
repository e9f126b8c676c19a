"""Keys and memberships in MongoDB."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.access.records import MembershipRecord, StoredKey
from labelmesh.core.documents import aware, from_document, to_document
from labelmesh.core.mongo import Document, duplicates_conflict, session_of
from labelmesh.core.uow import Transaction

KEYS = "api_keys"
MEMBERSHIPS = "memberships"


def key_of(document: Document) -> StoredKey:
    return from_document(
        StoredKey,
        document,
        "key_id",
        project_ids=tuple(document["project_ids"]),
        expires_at=aware(document["expires_at"]),
        created_at=aware(document["created_at"]),
        revoked_at=aware(document["revoked_at"]),
    )


def membership_of(document: Document) -> MembershipRecord:
    return from_document(
        MembershipRecord,
        document,
        None,
        roles=tuple(document["roles"]),
        teams=tuple(document.get("teams", ())),
    )


def membership_document(membership: MembershipRecord) -> Document:
    return {"_id": membership.membership_id, **to_document(membership, None)}


class MongoAccessRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._keys = db[KEYS]
        self._memberships = db[MEMBERSHIPS]

    async def ensure_indexes(self) -> None:
        await self._keys.create_index([("organization_id", ASCENDING), ("created_at", DESCENDING)])
        await self._memberships.create_index(
            [("organization_id", ASCENDING), ("subject", ASCENDING)]
        )
        await self._memberships.create_index(
            [("organization_id", ASCENDING), ("project_id", ASCENDING), ("subject", ASCENDING)]
        )

    async def add_key(self, tx: Transaction, key: StoredKey) -> None:
        with duplicates_conflict(f"API key id {key.key_id!r} is taken"):
            await self._keys.insert_one(to_document(key, "key_id"), session=session_of(tx))

    async def key(self, key_id: str, tx: Transaction | None = None) -> StoredKey | None:
        session = session_of(tx) if tx is not None else None
        document = await self._keys.find_one({"_id": key_id}, session=session)
        return key_of(document) if document else None

    async def save_key(self, tx: Transaction, key: StoredKey) -> None:
        await self._keys.replace_one(
            {"_id": key.key_id}, to_document(key, "key_id"), session=session_of(tx)
        )

    async def keys(self, organization_id: str) -> list[StoredKey]:
        cursor = self._keys.find({"organization_id": organization_id}).sort("created_at", -1)
        return [key_of(d) async for d in cursor]

    async def any_key(self) -> bool:
        return await self._keys.find_one({}, projection={"_id": 1}) is not None

    async def membership(
        self, tx: Transaction, organization_id: str, project_id: str, subject: str
    ) -> MembershipRecord | None:
        wanted = MembershipRecord(organization_id, project_id, subject, ())
        document = await self._memberships.find_one(
            {"_id": wanted.membership_id}, session=session_of(tx)
        )
        return membership_of(document) if document else None

    async def save_membership(self, tx: Transaction, membership: MembershipRecord) -> None:
        if not membership.roles:
            await self._memberships.delete_one(
                {"_id": membership.membership_id}, session=session_of(tx)
            )
            return
        await self._memberships.replace_one(
            {"_id": membership.membership_id},
            membership_document(membership),
            upsert=True,
            session=session_of(tx),
        )

    async def memberships_of(self, organization_id: str, subject: str) -> list[MembershipRecord]:
        cursor = self._memberships.find({"organization_id": organization_id, "subject": subject})
        return [membership_of(d) async for d in cursor]

    async def memberships_in(
        self, organization_id: str, project_id: str | None
    ) -> list[MembershipRecord]:
        # One equality query per project keeps each on the (organisation, project) index.
        queries: list[Document] = (
            [{"organization_id": organization_id}]
            if project_id is None
            else [{"organization_id": organization_id, "project_id": p} for p in ("", project_id)]
        )
        found = [membership_of(d) for q in queries async for d in self._memberships.find(q)]
        return sorted(found, key=lambda m: (m.project_id, m.subject))
