"""The hash chain. Pure: no I/O.

Each entry's hash covers the previous entry's hash and the exact bytes of the
recorded envelope, so changing, removing or reordering any entry breaks every
hash after it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC

from labelmesh.audit.records import AuditEntry, ChainHead
from labelmesh.core.envelopes import encode
from labelmesh.v1.events_pb2 import Actor, Envelope


def chain_key(envelope: Envelope) -> str:
    """Events about an item chain per item; project-level events per project."""
    return envelope.item_id or f"project:{envelope.project_id}"


def entry_hash(previous_hash: str, envelope_bytes: bytes) -> str:
    """The hash of an entry: SHA-256 over the previous hash and the event's bytes, hex."""
    return hashlib.sha256(previous_hash.encode() + b"\n" + envelope_bytes).hexdigest()


def actor_label(envelope: Envelope) -> str:
    """Who caused an event, as "<Actor.Kind name>:<id>", e.g. "KIND_USER:alice"."""
    return f"{Actor.Kind.Name(envelope.actor.kind)}:{envelope.actor.id}"


def extend_chains(
    heads: Mapping[str, ChainHead], envelopes: Sequence[Envelope]
) -> list[AuditEntry]:
    """The entries that append `envelopes`, in order, to the chains ending at `heads`."""
    current = dict(heads)
    entries = []
    for envelope in envelopes:
        key = chain_key(envelope)
        head = current.get(key, ChainHead(key, -1, ""))
        raw = encode(envelope)
        entry = AuditEntry(
            event_id=envelope.event_id,
            chain=key,
            sequence=head.sequence + 1,
            event_type=envelope.event_type,
            producer=envelope.producer,
            trace_id=envelope.trace_id,
            actor=actor_label(envelope),
            occurred_at=envelope.occurred_at.ToDatetime(tzinfo=UTC),
            previous_hash=head.hash,
            hash=entry_hash(head.hash, raw),
            envelope=raw,
        )
        current[key] = ChainHead(key, entry.sequence, entry.hash)
        entries.append(entry)
    return entries


def new_heads(entries: Sequence[AuditEntry]) -> dict[str, ChainHead]:
    """The head each chain has once `entries` (in chain order) are appended."""
    return {e.chain: ChainHead(e.chain, e.sequence, e.hash) for e in entries}


@dataclass(frozen=True)
class ChainLink:
    """What verifying one entry needs."""

    sequence: int
    previous_hash: str
    hash: str
    envelope_bytes: bytes


def link_of(entry: AuditEntry) -> ChainLink:
    """The part of a stored entry the chain verification checks."""
    return ChainLink(entry.sequence, entry.previous_hash, entry.hash, entry.envelope)


@dataclass(frozen=True)
class Verification:
    """The result of recomputing a chain."""

    intact: bool
    checked: int
    first_bad_sequence: int | None


def verify(links: Sequence[ChainLink]) -> Verification:
    """Recompute the chain in sequence order and report the first broken link."""
    previous = ""
    for expected_sequence, link in enumerate(sorted(links, key=lambda lk: lk.sequence)):
        if (
            link.sequence != expected_sequence
            or link.previous_hash != previous
            or entry_hash(previous, link.envelope_bytes) != link.hash
        ):
            return Verification(False, expected_sequence + 1, expected_sequence)
        previous = link.hash
    return Verification(True, len(links), None)
