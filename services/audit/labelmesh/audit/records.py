"""What the audit repository stores and returns: entries of the hash chains,
the head of each chain, each project's log counters and its checkpoints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class AuditEntry:
    """One recorded event, at its place in its chain."""

    event_id: str
    # The chain it belongs to: the item id, or "project:<id>" for project events.
    chain: str
    sequence: int
    event_type: str
    producer: str
    trace_id: str
    # Who caused it, as "<Actor.Kind name>:<id>", e.g. "KIND_USER:alice".
    actor: str
    occurred_at: datetime
    # Hex SHA-256 of the previous entry; empty for the first.
    previous_hash: str
    hash: str
    # The exact bytes the hash covers.
    envelope: bytes
    # The recorded event's project and item (empty for project-level events).
    project_id: str = ""
    item_id: str = ""
    # How many checkpoints of the project were written before it: the first
    # checkpoint whose root covers it is number epoch + 1.
    epoch: int = 0


@dataclass(frozen=True)
class ChainHead:
    """The last entry of a chain: where the next entry attaches."""

    chain: str
    sequence: int
    hash: str


@dataclass(frozen=True)
class ProjectLog:
    """A project's counters, kept on write: what its checkpoints chain from."""

    project_id: str
    entries: int
    # Checkpoints written so far, the last one's hash and how many entries it covered.
    checkpoints: int
    checkpoint_hash: str
    checkpointed_entries: int
    # The earliest and latest occurred_at of the project's entries.
    earliest: datetime
    latest: datetime
    # Entries per second in the densest burst recorded (0 before the first).
    peak_rate: float = 0.0


@dataclass(frozen=True)
class Checkpoint:
    """A project's Merkle root over its chain heads at one moment, chained to the
    previous checkpoint."""

    project_id: str
    # From 1.
    sequence: int
    at: datetime
    # Hex SHA-256 Merkle root over the sorted (chain, head sequence, head hash).
    root: str
    chains: int
    entries: int
    # The previous checkpoint's hash; empty for the first.
    previous_hash: str
    hash: str


@dataclass(frozen=True)
class AuditQuery:
    """Which entries a query returns; every field set must match."""

    project_id: str = ""
    actor: str = ""
    # Any of these event types (full names); empty means every type.
    event_types: tuple[str, ...] = ()
    item_id: str = ""
    occurred_from: datetime | None = None
    # Exclusive.
    occurred_to: datetime | None = None


@dataclass(frozen=True)
class Scope:
    """What one indexed query of a project's entries asks: the equality prefix."""

    project_id: str
    actor: str = ""
    event_type: str = ""
