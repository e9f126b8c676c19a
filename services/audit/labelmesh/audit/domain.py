"""The hash chain. Pure: no I/O.

Each entry's hash covers the previous entry's hash and the exact bytes of the
recorded envelope, so changing, removing or reordering any entry breaks every
hash after it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from labelmesh.v1.events_pb2 import Envelope


def chain_key(envelope: Envelope) -> str:
    """Events about an item chain per item; project-level events per project."""
    return envelope.item_id or f"project:{envelope.project_id}"


def entry_hash(previous_hash: str, envelope_bytes: bytes) -> str:
    return hashlib.sha256(previous_hash.encode() + b"\n" + envelope_bytes).hexdigest()


@dataclass(frozen=True)
class ChainLink:
    sequence: int
    previous_hash: str
    hash: str
    envelope_bytes: bytes


@dataclass(frozen=True)
class Verification:
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
