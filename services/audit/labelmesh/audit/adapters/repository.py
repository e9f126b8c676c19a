"""The audit log in MongoDB: append-only entries and one head per chain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.audit.domain import ChainLink, chain_key, entry_hash
from labelmesh.core.envelopes import encode
from labelmesh.core.mongo import Document, Transaction
from labelmesh.v1.events_pb2 import Actor, Envelope


class AuditRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.entries = db["audit_entries"]
        self.heads = db["chain_heads"]

    async def ensure_indexes(self) -> None:
        await self.entries.create_index(
            [("chain", ASCENDING), ("sequence", ASCENDING)], unique=True
        )

    async def append(self, tx: Transaction, envelopes: Sequence[Envelope]) -> list[Envelope]:
        """Append events to their chains in order; returns those not recorded before."""
        ids = [e.event_id for e in envelopes]
        cursor = self.entries.find({"_id": {"$in": ids}}, {"_id": 1}, session=tx.session)
        seen = {d["_id"] async for d in cursor}
        fresh = []
        for envelope in envelopes:
            if envelope.event_id not in seen:
                seen.add(envelope.event_id)
                fresh.append(envelope)
        if not fresh:
            return []
        keys = list({chain_key(e) for e in fresh})
        cursor = self.heads.find({"_id": {"$in": keys}}, session=tx.session)
        read_heads = {d["_id"]: (d["sequence"], d["hash"]) async for d in cursor}
        heads = dict(read_heads)
        documents = []
        for envelope in fresh:
            key = chain_key(envelope)
            last_sequence, previous_hash = heads.get(key, (-1, ""))
            raw = encode(envelope)
            digest = entry_hash(previous_hash, raw)
            heads[key] = (last_sequence + 1, digest)
            documents.append(
                {
                    "_id": envelope.event_id,
                    "chain": key,
                    "sequence": last_sequence + 1,
                    "event_type": envelope.event_type,
                    "producer": envelope.producer,
                    "trace_id": envelope.trace_id,
                    "actor": f"{Actor.Kind.Name(envelope.actor.kind)}:{envelope.actor.id}",
                    "occurred_at": envelope.occurred_at.ToDatetime(tzinfo=UTC),
                    "previous_hash": previous_hash,
                    "hash": digest,
                    "envelope": raw,
                }
            )
        await self.entries.insert_many(documents, session=tx.session)
        # Each head moves only from the value read above: a concurrent appender
        # makes the filter miss, the upsert then collides on _id, and the
        # transaction retries against the new head.
        await self.heads.bulk_write(
            [
                UpdateOne(
                    {"_id": key, "sequence": read_heads[key][0]}
                    if key in read_heads
                    else {"_id": key},
                    {"$set": {"sequence": sequence, "hash": digest}},
                    upsert=True,
                )
                for key, (sequence, digest) in heads.items()
                if read_heads.get(key) != (sequence, digest)
            ],
            session=tx.session,
        )
        return fresh

    async def chain(self, key: str) -> list[Document]:
        return await self.entries.find({"chain": key}).sort("sequence", 1).to_list(None)

    @staticmethod
    def links(documents: list[Document]) -> list[ChainLink]:
        return [
            ChainLink(d["sequence"], d["previous_hash"], d["hash"], bytes(d["envelope"]))
            for d in documents
        ]
