"""The audit log in MongoDB: append-only entries and one head per chain."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from pymongo import ASCENDING, InsertOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.audit.domain import new_heads
from labelmesh.audit.records import AuditEntry, ChainHead
from labelmesh.core.documents import from_document, to_document
from labelmesh.core.errors import Conflict
from labelmesh.core.mongo import Document, duplicates_conflict, find_in, session_of
from labelmesh.core.uow import Transaction

ENTRIES = "audit_entries"
HEADS = "chain_heads"
CHAINS_MOVED = "the audit chains moved while appending; retry"


def entry_document(entry: AuditEntry) -> Document:
    return to_document(entry, "event_id")


def entry_of(document: Document) -> AuditEntry:
    return from_document(AuditEntry, document, "event_id", envelope=bytes(document["envelope"]))


def head_writes(
    read: Mapping[str, ChainHead], entries: Sequence[AuditEntry]
) -> tuple[list[InsertOne[Document] | UpdateOne], int]:
    """The writes that move each chain's head from its `read` value (or start
    the chain), and how many of them are moves.

    A chain someone else started collides on the insert's _id; a head that
    moved since it was read is missed by its move's filter. On SecantusDB an
    insert costs a third of an upsert, and a plain update two thirds.
    """
    writes: list[InsertOne[Document] | UpdateOne] = []
    moves = 0
    for key, head in new_heads(entries).items():
        fields = {"sequence": head.sequence, "hash": head.hash}
        if key in read:
            writes.append(UpdateOne({"_id": key, "sequence": read[key].sequence}, {"$set": fields}))
            moves += 1
        else:
            writes.append(InsertOne({"_id": key, **fields}))
    return writes, moves


class MongoAuditRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._entries = db[ENTRIES]
        self._heads = db[HEADS]

    async def ensure_indexes(self) -> None:
        await self._entries.create_index(
            [("chain", ASCENDING), ("sequence", ASCENDING)], unique=True
        )

    async def recorded(self, tx: Transaction, event_ids: Collection[str]) -> set[str]:
        found = await find_in(self._entries, "_id", event_ids, session_of(tx), {"_id": 1})
        return {d["_id"] for d in found}

    async def heads(self, tx: Transaction, chains: Collection[str]) -> dict[str, ChainHead]:
        found = await find_in(self._heads, "_id", chains, session_of(tx))
        return {d["_id"]: ChainHead(d["_id"], d["sequence"], d["hash"]) for d in found}

    async def append(
        self, tx: Transaction, read: Mapping[str, ChainHead], entries: Sequence[AuditEntry]
    ) -> None:
        if not entries:
            return
        session = session_of(tx)
        writes, moves = head_writes(read, entries)
        with duplicates_conflict(CHAINS_MOVED):
            await self._entries.insert_many(
                [entry_document(e) for e in entries], ordered=True, session=session
            )
            # Unordered, the new chains' inserts go as one command and the
            # moves as another, however they interleave.
            result = await self._heads.bulk_write(writes, ordered=False, session=session)
        if result.matched_count != moves:
            raise Conflict(CHAINS_MOVED)

    async def trail(self, chain: str) -> list[AuditEntry]:
        documents = await self._entries.find({"chain": chain}).sort("sequence", 1).to_list(None)
        return [entry_of(d) for d in documents]
