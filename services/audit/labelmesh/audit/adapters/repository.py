"""The audit log in MongoDB: append-only entries and one head per chain."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.audit.domain import new_heads
from labelmesh.audit.records import AuditEntry, ChainHead
from labelmesh.core.documents import from_document, to_document
from labelmesh.core.mongo import Document, duplicates_conflict, session_of
from labelmesh.core.uow import Transaction

ENTRIES = "audit_entries"
HEADS = "chain_heads"


def entry_document(entry: AuditEntry) -> Document:
    return to_document(entry, "event_id")


def entry_of(document: Document) -> AuditEntry:
    return from_document(AuditEntry, document, "event_id", envelope=bytes(document["envelope"]))


class MongoAuditRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._entries = db[ENTRIES]
        self._heads = db[HEADS]

    async def ensure_indexes(self) -> None:
        await self._entries.create_index(
            [("chain", ASCENDING), ("sequence", ASCENDING)], unique=True
        )

    async def recorded(self, tx: Transaction, event_ids: Collection[str]) -> set[str]:
        cursor = self._entries.find(
            {"_id": {"$in": list(event_ids)}}, {"_id": 1}, session=session_of(tx)
        )
        return {d["_id"] async for d in cursor}

    async def heads(self, tx: Transaction, chains: Collection[str]) -> dict[str, ChainHead]:
        cursor = self._heads.find({"_id": {"$in": list(chains)}}, session=session_of(tx))
        return {d["_id"]: ChainHead(d["_id"], d["sequence"], d["hash"]) async for d in cursor}

    async def append(
        self, tx: Transaction, read: Mapping[str, ChainHead], entries: Sequence[AuditEntry]
    ) -> None:
        if not entries:
            return
        session = session_of(tx)
        with duplicates_conflict("the audit chains moved while appending; retry"):
            await self._entries.insert_many(
                [entry_document(e) for e in entries], ordered=True, session=session
            )
            # Each head moves only from the value read: if it moved since, the
            # filter misses and the upsert collides on _id.
            await self._heads.bulk_write(
                [
                    UpdateOne(
                        {"_id": key, "sequence": read[key].sequence}
                        if key in read
                        else {"_id": key},
                        {"$set": {"sequence": head.sequence, "hash": head.hash}},
                        upsert=True,
                    )
                    for key, head in new_heads(entries).items()
                ],
                session=session,
            )

    async def trail(self, chain: str) -> list[AuditEntry]:
        documents = await self._entries.find({"chain": chain}).sort("sequence", 1).to_list(None)
        return [entry_of(d) for d in documents]
