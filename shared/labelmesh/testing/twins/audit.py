"""In-memory twin of the audit service's repository port."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from labelmesh.audit.domain import burst_rate, new_heads, time_key
from labelmesh.audit.records import AuditEntry, ChainHead, Checkpoint, ProjectLog, Scope
from labelmesh.core.errors import Conflict
from labelmesh.core.uow import Transaction
from labelmesh.testing.memory import MemoryState

ENTRIES = "audit_entries"
HEADS = "chain_heads"
PROJECTS = "audit_projects"
CHECKPOINTS = "audit_checkpoints"
HEAD_PROJECTS = "chain_head_projects"
DIRTY = "audit_dirty_projects"


def _millis(moment: datetime) -> datetime:
    # MongoDB keeps times to the millisecond.
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class InMemoryAuditRepository:
    """Entries by event id, heads by chain, project logs and checkpoints, in tables
    the unit of work rolls back."""

    def __init__(self, state: MemoryState) -> None:
        self.entries: dict[str, AuditEntry] = state.table(ENTRIES)
        self.chain_heads_: dict[str, ChainHead] = state.table(HEADS)
        self.head_projects: dict[str, str] = state.table(HEAD_PROJECTS)
        self.projects: dict[str, ProjectLog] = state.table(PROJECTS)
        self.dirty: dict[str, bool] = state.table(DIRTY)
        self.stored_checkpoints: dict[str, Checkpoint] = state.table(CHECKPOINTS)

    async def recorded(self, tx: Transaction, event_ids: Collection[str]) -> set[str]:
        return {i for i in event_ids if i in self.entries}

    async def heads(self, tx: Transaction, chains: Collection[str]) -> dict[str, ChainHead]:
        return await self.chain_heads(chains)

    async def epochs(self, tx: Transaction, projects: Collection[str]) -> dict[str, int]:
        return {p: self.projects[p].checkpoints for p in projects if p in self.projects}

    async def append(
        self, tx: Transaction, read: Mapping[str, ChainHead], entries: Sequence[AuditEntry]
    ) -> None:
        taken = {(e.chain, e.sequence) for e in self.entries.values()}
        for entry in entries:
            if entry.event_id in self.entries or (entry.chain, entry.sequence) in taken:
                raise Conflict(f"audit entry {entry.event_id!r} collides with a stored one")
            stored = replace(entry, occurred_at=_millis(entry.occurred_at))
            self.entries[entry.event_id] = stored
            taken.add((entry.chain, entry.sequence))
        for key, head in new_heads(entries).items():
            stored_head = self.chain_heads_.get(key)
            if key in read and (stored_head is None or stored_head.sequence != read[key].sequence):
                raise Conflict(f"the head of chain {key!r} moved since it was read")
            self.chain_heads_[key] = head
        for entry in entries:
            self.head_projects[entry.chain] = entry.project_id
            self._count(entry)
        for project_id in {e.project_id for e in entries}:
            rate = burst_rate([e.occurred_at for e in entries if e.project_id == project_id])
            log = self.projects[project_id]
            self.projects[project_id] = replace(log, peak_rate=max(log.peak_rate, rate))

    def _count(self, entry: AuditEntry) -> None:
        at = _millis(entry.occurred_at)
        log = self.projects.get(entry.project_id)
        if log is None:
            log = ProjectLog(entry.project_id, 0, 0, "", 0, at, at)
        if log.checkpoints != entry.epoch:
            raise Conflict(f"a checkpoint of project {entry.project_id!r} was written meanwhile")
        self.projects[entry.project_id] = replace(
            log,
            entries=log.entries + 1,
            earliest=min(log.earliest, at),
            latest=max(log.latest, at),
        )
        self.dirty[entry.project_id] = True

    async def trail(self, chain: str) -> list[AuditEntry]:
        return sorted(
            (e for e in self.entries.values() if e.chain == chain), key=lambda e: e.sequence
        )

    async def chain_slice(self, chain: str, first: int, stop: int) -> list[AuditEntry]:
        return [e for e in await self.trail(chain) if first <= e.sequence < stop]

    async def between(self, scope: Scope, start: datetime, stop: datetime) -> list[AuditEntry]:
        found = [
            e
            for e in self.entries.values()
            if e.project_id == scope.project_id
            and (not scope.actor or e.actor == scope.actor)
            and (not scope.event_type or e.event_type == scope.event_type)
            and start <= e.occurred_at < stop
        ]
        return sorted(found, key=time_key)

    async def project_log(
        self, project_id: str, tx: Transaction | None = None
    ) -> ProjectLog | None:
        return self.projects.get(project_id)

    async def dirty_projects(self) -> list[str]:
        return sorted(p for p, dirty in self.dirty.items() if dirty)

    async def project_heads(
        self, project_id: str, tx: Transaction | None = None
    ) -> list[ChainHead]:
        keys = [c for c, p in self.head_projects.items() if p == project_id]
        return [self.chain_heads_[c] for c in keys if c in self.chain_heads_]

    async def project_chain_keys(self, project_id: str) -> set[str]:
        return {e.chain for e in self.entries.values() if e.project_id == project_id}

    async def trails(self, chains: Collection[str]) -> dict[str, list[AuditEntry]]:
        wanted = set(chains)
        grouped: dict[str, list[AuditEntry]] = {c: [] for c in wanted}
        for entry in self.entries.values():
            if entry.chain in wanted:
                grouped[entry.chain].append(entry)
        return grouped

    async def chain_heads(self, chains: Collection[str]) -> dict[str, ChainHead]:
        return {c: self.chain_heads_[c] for c in chains if c in self.chain_heads_}

    async def add_checkpoint(
        self, tx: Transaction, log: ProjectLog, checkpoint: Checkpoint
    ) -> None:
        key = f"{checkpoint.project_id}:{checkpoint.sequence}"
        current = self.projects.get(log.project_id)
        if key in self.stored_checkpoints or current != log:
            raise Conflict(f"a checkpoint of project {log.project_id!r} was written meanwhile")
        self.stored_checkpoints[key] = checkpoint
        self.projects[log.project_id] = replace(
            log,
            checkpoints=checkpoint.sequence,
            checkpoint_hash=checkpoint.hash,
            checkpointed_entries=checkpoint.entries,
        )
        self.dirty[log.project_id] = False

    async def checkpoints(self, project_id: str) -> list[Checkpoint]:
        found = [c for c in self.stored_checkpoints.values() if c.project_id == project_id]
        return sorted(found, key=lambda c: c.sequence)
