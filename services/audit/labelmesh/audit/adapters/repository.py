"""The audit log in MongoDB: append-only entries and one head per chain."""

from __future__ import annotations

from datetime import UTC

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document, Transaction
from labelmesh.audit.domain import ChainLink, chain_key, entry_hash
from labelmesh.core.envelopes import encode
from labelmesh.v1.events_pb2 import Envelope


class AuditRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.entries = db["audit_entries"]
        self.heads = db["chain_heads"]

    async def ensure_indexes(self) -> None:
        await self.entries.create_index([("chain", ASCENDING), ("sequence", ASCENDING)], unique=True)

    async def append(self, tx: Transaction, envelope: Envelope) -> bool:
        """Append an event to its chain; False if it is already recorded."""
        if await self.entries.find_one({"_id": envelope.event_id}, {"_id": 1}, session=tx.session):
            return False
        key = chain_key(envelope)
        head = await self.heads.find_one({"_id": key}, session=tx.session)
        sequence = head["sequence"] + 1 if head else 0
        previous_hash = head["hash"] if head else ""
        raw = encode(envelope)
        digest = entry_hash(previous_hash, raw)
        await self.entries.insert_one(
            {
                "_id": envelope.event_id,
                "chain": key,
                "sequence": sequence,
                "event_type": envelope.event_type,
                "producer": envelope.producer,
                "actor": f"{envelope.actor.Kind.Name(envelope.actor.kind)}:{envelope.actor.id}",
                "occurred_at": envelope.occurred_at.ToDatetime(tzinfo=UTC),
                "previous_hash": previous_hash,
                "hash": digest,
                "envelope": raw,
            },
            session=tx.session,
        )
        # Conditional on the head we read: a concurrent appender fails here
        # (or on the unique index) and retries against the new head.
        await self.heads.update_one(
            {"_id": key, "sequence": sequence - 1} if head else {"_id": key},
            {"$set": {"sequence": sequence, "hash": digest}},
            upsert=True,
            session=tx.session,
        )
        return True

    async def chain(self, key: str) -> list[Document]:
        return await self.entries.find({"chain": key}).sort("sequence", 1).to_list(None)

    @staticmethod
    def links(documents: list[Document]) -> list[ChainLink]:
        return [
            ChainLink(d["sequence"], d["previous_hash"], d["hash"], bytes(d["envelope"]))
            for d in documents
        ]
