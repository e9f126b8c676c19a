"""The audit service's repository port."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from labelmesh.audit.records import AuditEntry, ChainHead, Checkpoint, ProjectLog, Scope
from labelmesh.core.uow import Transaction


class AuditRepository(Protocol):
    """Append-only entries of the hash chains, the head of each chain, each
    project's log counters and its checkpoints."""

    async def recorded(self, tx: Transaction, event_ids: Collection[str]) -> set[str]:
        """Those of `event_ids` that already have an entry."""
        ...

    async def heads(self, tx: Transaction, chains: Collection[str]) -> dict[str, ChainHead]:
        """The current head of each of `chains` that has one."""
        ...

    async def epochs(self, tx: Transaction, projects: Collection[str]) -> dict[str, int]:
        """How many checkpoints each of `projects` that has a log has."""
        ...

    async def append(
        self, tx: Transaction, read: Mapping[str, ChainHead], entries: Sequence[AuditEntry]
    ) -> None:
        """Insert `entries` (in chain order), move each chain's head from its `read`
        value, and count the entries in their project's log.

        Raises Conflict if an entry's event id or (chain, sequence) is already
        stored, if a head moved since it was read, or if the project has more
        checkpoints than the entries' epoch.
        """
        ...

    async def trail(self, chain: str) -> list[AuditEntry]:
        """A chain's entries in sequence order; empty if nothing was recorded for it."""
        ...

    async def chain_slice(self, chain: str, first: int, stop: int) -> list[AuditEntry]:
        """A chain's entries with first <= sequence < stop, in sequence order."""
        ...

    async def between(self, scope: Scope, start: datetime, stop: datetime) -> list[AuditEntry]:
        """The entries in `scope` with start <= occurred_at < stop, in time order
        (occurred_at, then event id); their recorded bytes may be left out."""
        ...

    async def project_log(
        self, project_id: str, tx: Transaction | None = None
    ) -> ProjectLog | None:
        """The project's log counters; None if nothing was recorded for it."""
        ...

    async def dirty_projects(self) -> list[str]:
        """The projects with entries that no checkpoint covers yet."""
        ...

    async def project_heads(
        self, project_id: str, tx: Transaction | None = None
    ) -> list[ChainHead]:
        """The head of every chain of the project."""
        ...

    async def project_chain_keys(self, project_id: str) -> set[str]:
        """The chain of every entry recorded for the project."""
        ...

    async def trails(self, chains: Collection[str]) -> dict[str, list[AuditEntry]]:
        """The entries of each of `chains`, in no particular order."""
        ...

    async def chain_heads(self, chains: Collection[str]) -> dict[str, ChainHead]:
        """The head of each of `chains` that has one, outside a transaction."""
        ...

    async def add_checkpoint(
        self, tx: Transaction, log: ProjectLog, checkpoint: Checkpoint
    ) -> None:
        """Store the project's next checkpoint and move its log's counters from `log`.

        Raises Conflict if that checkpoint exists, or if the log changed since read.
        """
        ...

    async def checkpoints(self, project_id: str) -> list[Checkpoint]:
        """The project's checkpoints in sequence order."""
        ...
