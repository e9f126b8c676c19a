"""What the audit repository stores and returns: entries of the hash chains and
the head of each chain."""

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


@dataclass(frozen=True)
class ChainHead:
    """The last entry of a chain: where the next entry attaches."""

    chain: str
    sequence: int
    hash: str
