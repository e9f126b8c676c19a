"""The audit log in MongoDB: append-only entries, one head per chain, each
project's log counters and its checkpoints."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, InsertOne, UpdateOne
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.audit.domain import burst_rate, new_heads, time_key
from labelmesh.audit.records import AuditEntry, ChainHead, Checkpoint, ProjectLog, Scope
from labelmesh.core.documents import aware, from_document, to_document
from labelmesh.core.errors import Conflict
from labelmesh.core.mongo import Document, duplicates_conflict, find_in, session_of
from labelmesh.core.uow import Transaction
from labelmesh.v1.events_pb2 import Envelope

ENTRIES = "audit_entries"
HEADS = "chain_heads"
PROJECTS = "audit_projects"
CHECKPOINTS = "audit_checkpoints"
CHAINS_MOVED = "the audit chains moved while appending; retry"
CHECKPOINTED = "a checkpoint of the project was written meanwhile; retry"
TIME_ORDER = [("occurred_at", ASCENDING), ("_id", ASCENDING)]
# Every query of entries by project is an equality prefix of one of these and
# a range on occurred_at, in the index's order.
ENTRY_INDEXES: list[list[tuple[str, int]]] = [
    [("chain", ASCENDING), ("sequence", ASCENDING)],
    [("project_id", ASCENDING), *TIME_ORDER],
    [("project_id", ASCENDING), ("actor", ASCENDING), *TIME_ORDER],
    [("project_id", ASCENDING), ("event_type", ASCENDING), *TIME_ORDER],
]


def entry_document(entry: AuditEntry) -> Document:
    return to_document(entry, "event_id")


def entry_of(document: Document) -> AuditEntry:
    """An entry as stored; entries written before project, item and epoch were
    stored get the first two from their envelope, and epoch 0."""
    raw = bytes(document.get("envelope", b""))
    read: dict[str, Any] = {"envelope": raw, "occurred_at": aware(document["occurred_at"])}
    if raw and ("project_id" not in document or "item_id" not in document):
        envelope = Envelope.FromString(raw)
        read |= {"project_id": envelope.project_id, "item_id": envelope.item_id}
    read.setdefault("epoch", document.get("epoch", 0))
    return from_document(AuditEntry, document, "event_id", **read)


def checkpoint_document(checkpoint: Checkpoint) -> Document:
    return to_document(checkpoint, None, _id=f"{checkpoint.project_id}:{checkpoint.sequence}")


def checkpoint_of(document: Document) -> Checkpoint:
    fields = {k: v for k, v in document.items() if k != "_id"}
    return Checkpoint(**{**fields, "at": aware(fields["at"])})


def project_of(document: Document) -> ProjectLog:
    return ProjectLog(
        project_id=document["_id"],
        entries=document["entries"],
        checkpoints=document["checkpoints"],
        checkpoint_hash=document.get("checkpoint_hash", ""),
        checkpointed_entries=document.get("checkpointed_entries", 0),
        earliest=aware(document["earliest"]) or document["earliest"],
        latest=aware(document["latest"]) or document["latest"],
        peak_rate=document.get("peak_rate", 0.0),
    )


def head_writes(
    read: Mapping[str, ChainHead], entries: Sequence[AuditEntry]
) -> tuple[list[InsertOne[Document] | UpdateOne], int]:
    """The writes that move each chain's head from its `read` value (or start
    the chain), and how many of them are moves.

    A chain someone else started collides on the insert's _id; a head that
    moved since it was read is missed by its move's filter. On SecantusDB an
    insert costs a third of an upsert, and a plain update two thirds. Heads
    carry their project, so that a checkpoint finds the project's chains.
    """
    projects = {e.chain: e.project_id for e in entries}
    writes: list[InsertOne[Document] | UpdateOne] = []
    moves = 0
    for key, head in new_heads(entries).items():
        fields = {"sequence": head.sequence, "hash": head.hash, "project_id": projects[key]}
        if key in read:
            writes.append(UpdateOne({"_id": key, "sequence": read[key].sequence}, {"$set": fields}))
            moves += 1
        else:
            writes.append(InsertOne({"_id": key, **fields}))
    return writes, moves


def project_writes(entries: Sequence[AuditEntry]) -> list[UpdateOne]:
    """One write per project: count its new entries, widen its time span, mark it
    for the next checkpoint. The filter names the checkpoint count the entries'
    epoch was read from: if a checkpoint was written meanwhile, the upsert
    collides on _id instead of matching, and the append is a conflict."""
    counts = Counter(e.project_id for e in entries)
    writes = []
    for project_id, count in counts.items():
        times = [e.occurred_at for e in entries if e.project_id == project_id]
        update = {
            "$inc": {"entries": count},
            "$min": {"earliest": min(times)},
            "$max": {"latest": max(times), "peak_rate": burst_rate(times)},
            "$set": {"dirty": True},
        }
        epoch = next(e.epoch for e in entries if e.project_id == project_id)
        filter = {"_id": project_id, "checkpoints": epoch}
        writes.append(UpdateOne(filter, update, upsert=True))
    return writes


def scope_filter(scope: Scope, start: datetime, stop: datetime) -> Document:
    """An equality prefix of one index and a range on its sort key."""
    filter: Document = {"project_id": scope.project_id}
    if scope.actor:
        filter["actor"] = scope.actor
    elif scope.event_type:
        filter["event_type"] = scope.event_type
    filter["occurred_at"] = {"$gte": start, "$lt": stop}
    return filter


# Entries written before entries carried their project, backfilled per transaction.
BACKFILL_BATCH = 1000


def backfill_writes(
    documents: Sequence[Document],
) -> tuple[list[UpdateOne], list[UpdateOne], list[UpdateOne]]:
    """The writes that give entries stored without project, item and epoch those
    fields (from their envelope), their heads the project, and count them in
    their project's log."""
    entries, heads, projects = [], [], []
    found: dict[str, list[datetime]] = {}
    for document in documents:
        envelope = Envelope.FromString(bytes(document["envelope"]))
        fields = {"project_id": envelope.project_id, "item_id": envelope.item_id, "epoch": 0}
        # Another replica backfilling the same entry makes this one miss.
        entries.append(UpdateOne({"_id": document["_id"], "project_id": None}, {"$set": fields}))
        heads.append(
            UpdateOne({"_id": document["chain"]}, {"$set": {"project_id": envelope.project_id}})
        )
        found.setdefault(envelope.project_id, []).append(aware(document["occurred_at"]) or AT0)
    for project_id, times in found.items():
        update = {
            "$inc": {"entries": len(times)},
            "$min": {"earliest": min(times)},
            "$max": {"latest": max(times)},
            "$set": {"dirty": True},
            "$setOnInsert": {"checkpoints": 0},
        }
        projects.append(UpdateOne({"_id": project_id}, update, upsert=True))
    return entries, heads, projects


AT0 = datetime(1970, 1, 1, tzinfo=UTC)


class MongoAuditRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._entries = db[ENTRIES]
        self._heads = db[HEADS]
        self._projects = db[PROJECTS]
        self._checkpoints = db[CHECKPOINTS]

    async def ensure_indexes(self) -> None:
        for keys in ENTRY_INDEXES:
            await self._entries.create_index(keys, unique=keys == ENTRY_INDEXES[0])
        await self._heads.create_index([("project_id", ASCENDING), ("_id", ASCENDING)])
        await self._projects.create_index([("dirty", ASCENDING)])
        await self._checkpoints.create_index(
            [("project_id", ASCENDING), ("sequence", ASCENDING)], unique=True
        )

    async def prepare(self) -> None:
        """At start: the indexes, and the fields entries written before them lack."""
        await self.ensure_indexes()
        await self.backfill()

    async def backfill(self) -> int:
        """Give entries stored before they carried project, item and epoch those
        fields, and count them in their project's log; returns how many. Each
        batch is one transaction, so a crash leaves no entry counted twice."""
        legacy = self._entries.find(
            {"project_id": None}, {"envelope": 1, "chain": 1, "occurred_at": 1}
        )
        done = 0
        async for batch in _batches(legacy, BACKFILL_BATCH):
            entries, heads, projects = backfill_writes(batch)
            async with self._entries.database.client.start_session() as session:
                async with await session.start_transaction():
                    result = await self._entries.bulk_write(entries, session=session)
                    if result.modified_count != len(entries):
                        raise Conflict("another replica is backfilling the audit log; retry")
                    await self._heads.bulk_write(heads, ordered=False, session=session)
                    await self._projects.bulk_write(projects, session=session)
            done += len(batch)
        return done

    async def recorded(self, tx: Transaction, event_ids: Collection[str]) -> set[str]:
        found = await find_in(self._entries, "_id", event_ids, session_of(tx), {"_id": 1})
        return {d["_id"] for d in found}

    async def heads(self, tx: Transaction, chains: Collection[str]) -> dict[str, ChainHead]:
        found = await find_in(self._heads, "_id", chains, session_of(tx))
        return {d["_id"]: ChainHead(d["_id"], d["sequence"], d["hash"]) for d in found}

    async def epochs(self, tx: Transaction, projects: Collection[str]) -> dict[str, int]:
        found = await find_in(self._projects, "_id", projects, session_of(tx), {"checkpoints": 1})
        return {d["_id"]: d["checkpoints"] for d in found}

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
        with duplicates_conflict(CHECKPOINTED):
            await self._projects.bulk_write(project_writes(entries), session=session)

    async def trail(self, chain: str) -> list[AuditEntry]:
        documents = await self._entries.find({"chain": chain}).sort("sequence", 1).to_list(None)
        return [entry_of(d) for d in documents]

    async def chain_slice(self, chain: str, first: int, stop: int) -> list[AuditEntry]:
        filter = {"chain": chain, "sequence": {"$gte": first, "$lt": stop}}
        documents = await self._entries.find(filter).sort("sequence", 1).to_list(None)
        return [entry_of(d) for d in documents]

    async def between(self, scope: Scope, start: datetime, stop: datetime) -> list[AuditEntry]:
        # Neither a projection nor a sort on the server: SecantusDB applies both
        # per document in Python, and they cost it a third of an export's read
        # (measured); the window holds all its entries, so sorting it here
        # gives the same order. Views never show the recorded bytes.
        found = self._entries.find(scope_filter(scope, start, stop))
        entries = sorted((entry_of(d) for d in await found.to_list(None)), key=time_key)
        if scope.actor and scope.event_type:
            # Served by the actor index; the type is checked on what it returned.
            entries = [e for e in entries if e.event_type == scope.event_type]
        return entries

    async def project_log(
        self, project_id: str, tx: Transaction | None = None
    ) -> ProjectLog | None:
        session = session_of(tx) if tx is not None else None
        document = await self._projects.find_one({"_id": project_id}, session=session)
        return project_of(document) if document else None

    async def dirty_projects(self) -> list[str]:
        found = await self._projects.find({"dirty": True}, {"_id": 1}).to_list(None)
        return [d["_id"] for d in found]

    async def project_heads(
        self, project_id: str, tx: Transaction | None = None
    ) -> list[ChainHead]:
        session = session_of(tx) if tx is not None else None
        found = self._heads.find({"project_id": project_id}, session=session)
        return [ChainHead(d["_id"], d["sequence"], d["hash"]) for d in await found.to_list(None)]

    async def project_chain_keys(self, project_id: str) -> set[str]:
        found = self._entries.find({"project_id": project_id}, {"chain": 1, "_id": 0})
        return {d["chain"] for d in await found.to_list(None)}

    async def trails(self, chains: Collection[str]) -> dict[str, list[AuditEntry]]:
        grouped: dict[str, list[AuditEntry]] = {c: [] for c in chains}
        for document in await find_in(self._entries, "chain", chains):
            grouped[document["chain"]].append(entry_of(document))
        return grouped

    async def chain_heads(self, chains: Collection[str]) -> dict[str, ChainHead]:
        found = await find_in(self._heads, "_id", chains)
        return {d["_id"]: ChainHead(d["_id"], d["sequence"], d["hash"]) for d in found}

    async def add_checkpoint(
        self, tx: Transaction, log: ProjectLog, checkpoint: Checkpoint
    ) -> None:
        session = session_of(tx)
        with duplicates_conflict(CHECKPOINTED):
            await self._checkpoints.insert_one(checkpoint_document(checkpoint), session=session)
        moved = {
            "checkpoints": checkpoint.sequence,
            "checkpoint_hash": checkpoint.hash,
            "checkpointed_entries": checkpoint.entries,
        }
        # Still dirty if entries arrived after the ones this checkpoint read.
        filter = {"_id": log.project_id, "checkpoints": log.checkpoints, "entries": log.entries}
        result = await self._projects.update_one(
            filter, {"$set": {**moved, "dirty": False}}, session=session
        )
        if result.matched_count != 1:
            raise Conflict(CHECKPOINTED)

    async def checkpoints(self, project_id: str) -> list[Checkpoint]:
        found = self._checkpoints.find({"project_id": project_id}).sort("sequence", 1)
        return [checkpoint_of(d) for d in await found.to_list(None)]


async def _batches(cursor: AsyncCursor[Document], size: int) -> AsyncIterator[list[Document]]:
    batch: list[Document] = []
    async for document in cursor:
        batch.append(document)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
