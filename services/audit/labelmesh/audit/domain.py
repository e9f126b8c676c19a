"""The hash chain, project checkpoints, query cursors and label history. Pure: no I/O.

Each entry's hash covers the previous entry's hash and the exact bytes of the
recorded envelope, so changing, removing or reordering any entry breaks every
hash after it. A project's checkpoints hold a Merkle root over the heads of
all its chains and the previous checkpoint's hash, so removing a whole chain,
or rewinding the checkpoints, no longer goes unseen.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from labelmesh.audit.records import AuditEntry, ChainHead, Checkpoint
from labelmesh.core.envelopes import encode
from labelmesh.core.errors import InvalidField
from labelmesh.v1.events_pb2 import Actor, Envelope
from labelmesh.v1.geometry_pb2 import Label


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
    heads: Mapping[str, ChainHead],
    envelopes: Sequence[Envelope],
    epochs: Mapping[str, int] | None = None,
) -> list[AuditEntry]:
    """The entries that append `envelopes`, in order, to the chains ending at `heads`;
    `epochs` gives each project's checkpoint count (0 where missing)."""
    epochs = epochs or {}
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
            project_id=envelope.project_id,
            item_id=envelope.item_id,
            epoch=epochs.get(envelope.project_id, 0),
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


# Query cursors -------------------------------------------------------------

# The time window a query's first page reads when nothing better is known.
FIRST_WINDOW = timedelta(seconds=60)
MIN_WINDOW = timedelta(milliseconds=1)
MAX_WINDOW = timedelta(days=366)


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after (at, event_id) in time order, reading
    windows of `window`; for an item's chain, at `sequence`."""

    at: datetime | None = None
    event_id: str = ""
    window: timedelta = FIRST_WINDOW
    sequence: int = 0


def encode_cursor(cursor: Cursor) -> str:
    """The opaque page token of a cursor: URL-safe base64 of compact JSON."""
    raw = {
        "t": cursor.at.isoformat() if cursor.at else None,
        "i": cursor.event_id,
        "w": int(cursor.window / MIN_WINDOW),
        "s": cursor.sequence,
    }
    return base64.urlsafe_b64encode(json.dumps(raw, separators=(",", ":")).encode()).decode()


def decode_cursor(token: str) -> Cursor:
    """The cursor of a page token; InvalidField("page_token") if it is not one."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token.encode()))
        at = datetime.fromisoformat(raw["t"]) if raw["t"] is not None else None
        window = int(raw["w"]) * MIN_WINDOW
        cursor = Cursor(at, str(raw["i"]), window, int(raw["s"]))
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidField("page_token", "is not a token this API returned") from None
    if cursor.sequence < 0 or not MIN_WINDOW <= cursor.window <= MAX_WINDOW:
        raise InvalidField("page_token", "is not a token this API returned")
    return cursor


# A batch of at least this many of a project's entries measures its rate.
BURST_ENTRIES = 100


def burst_rate(times: Sequence[datetime]) -> float:
    """Entries per second of a batch of one project's entries, by when they
    occurred; 0 when the batch is too small to tell."""
    if len(times) < BURST_ENTRIES:
        return 0.0
    seconds = (max(times) - min(times)) / timedelta(seconds=1)
    return len(times) / max(seconds, MIN_WINDOW / timedelta(seconds=1))


def next_window(window: timedelta, found: int, wanted: int) -> timedelta:
    """The window to read next, given that `window` held `found` entries and a page
    wants `wanted`: scaled towards `wanted` entries per window, at most doubled."""
    if found == 0:
        scaled = window * 2
    else:
        scaled = min(window * 2, window * (wanted / found))
    return max(MIN_WINDOW, min(MAX_WINDOW, scaled))


def time_key(entry: AuditEntry) -> tuple[datetime, str]:
    """An entry's place in time order: occurred_at, ties broken by event id."""
    return (entry.occurred_at, entry.event_id)


def after_cursor(entries: Iterable[AuditEntry], cursor: Cursor) -> list[AuditEntry]:
    """The entries strictly after the cursor's position in time order."""
    if cursor.at is None:
        return list(entries)
    position = (cursor.at, cursor.event_id)
    return [e for e in entries if time_key(e) > position]


# Checkpoints ---------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def merkle_root(heads: Iterable[tuple[str, int, str]]) -> str:
    """The hex SHA-256 Merkle root over (chain key, head sequence, head hash) leaves.

    Leaves are sorted by chain key, so the root does not depend on the order
    heads are read in. Leaves and inner nodes hash with different prefixes (0x00
    and 0x01, as in RFC 6962) so that a leaf cannot pose as a node; an odd node
    out is carried up unchanged. No leaves give the hash of nothing.
    """
    level = [
        _sha256(b"\x00" + f"{chain}\n{sequence}\n{digest}".encode())
        for chain, sequence, digest in sorted(heads)
    ]
    if not level:
        return _sha256(b"")
    while len(level) > 1:
        paired = [
            _sha256(b"\x01" + level[i].encode() + level[i + 1].encode())
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def checkpoint_hash(
    project_id: str,
    sequence: int,
    at: datetime,
    root: str,
    chains: int,
    entries: int,
    previous_hash: str,
) -> str:
    """The hash of a checkpoint: SHA-256 over its fields and the previous checkpoint's hash."""
    fields = [project_id, str(sequence), at.isoformat(), root, str(chains), str(entries)]
    return _sha256("\n".join([previous_hash, *fields]).encode())


def next_checkpoint(
    project_id: str,
    sequence: int,
    previous_hash: str,
    at: datetime,
    heads: Sequence[tuple[str, int, str]],
    entries: int,
) -> Checkpoint:
    """Checkpoint number `sequence` of a project, over `heads`, chained to `previous_hash`."""
    root = merkle_root(heads)
    digest = checkpoint_hash(project_id, sequence, at, root, len(heads), entries, previous_hash)
    return Checkpoint(project_id, sequence, at, root, len(heads), entries, previous_hash, digest)


@dataclass(frozen=True)
class Problem:
    """One thing a project's verification found wrong."""

    # One of: broken_link, head_mismatch, checkpoint_broken, checkpoint_mismatch,
    # checkpoint_rewound (the names of ProblemKind without the prefix).
    kind: str
    chain: str
    sequence: int
    detail: str


@dataclass(frozen=True)
class StoredChain:
    """A chain as stored: its entries (any order) and its head, if there is one."""

    key: str
    entries: Sequence[AuditEntry]
    head: ChainHead | None


@dataclass(frozen=True)
class ProjectVerification:
    """The result of verifying a whole project."""

    chains: int
    entries: int
    checkpoints: int
    problems: list[Problem] = field(default_factory=list)
    checkpoint_hash: str = ""

    @property
    def intact(self) -> bool:
        return not self.problems


def _chain_problems(chain: StoredChain) -> list[Problem]:
    ordered = sorted(chain.entries, key=lambda e: e.sequence)
    result = verify([link_of(e) for e in ordered])
    problems = []
    if not result.intact:
        bad = result.first_bad_sequence or 0
        detail = "the entry does not follow its chain"
        problems.append(Problem("broken_link", chain.key, bad, detail))
    last = ordered[-1] if ordered else None
    head = chain.head
    if head is None:
        problems.append(Problem("head_mismatch", chain.key, 0, "entries without a chain head"))
    elif last is None or (head.sequence, head.hash) != (last.sequence, last.hash):
        at = last.sequence if last else -1
        detail = f"the head names entry {head.sequence}, the chain ends at {at}"
        problems.append(Problem("head_mismatch", chain.key, head.sequence, detail))
    return problems


def heads_at(chains: Iterable[StoredChain], checkpoints: int) -> list[tuple[str, int, str]]:
    """Each chain's head as of checkpoint number `checkpoints`: its last entry
    recorded before that checkpoint was written (epoch below it)."""
    leaves = []
    for chain in chains:
        covered = [e for e in chain.entries if e.epoch < checkpoints]
        if covered:
            last = max(covered, key=lambda e: e.sequence)
            leaves.append((chain.key, last.sequence, last.hash))
    return leaves


def _checkpoint_problems(
    checkpoints: Sequence[Checkpoint], recorded: int, recorded_hash: str
) -> list[Problem]:
    problems = []
    previous = ""
    for expected, checkpoint in enumerate(sorted(checkpoints, key=lambda c: c.sequence), 1):
        digest = checkpoint_hash(
            checkpoint.project_id,
            checkpoint.sequence,
            checkpoint.at,
            checkpoint.root,
            checkpoint.chains,
            checkpoint.entries,
            checkpoint.previous_hash,
        )
        if checkpoint.sequence != expected or checkpoint.previous_hash != previous:
            detail = f"checkpoint {checkpoint.sequence} does not follow checkpoint {expected - 1}"
            problems.append(Problem("checkpoint_broken", "", checkpoint.sequence, detail))
        elif digest != checkpoint.hash:
            detail = "the checkpoint's hash does not match its fields"
            problems.append(Problem("checkpoint_broken", "", checkpoint.sequence, detail))
        previous = checkpoint.hash
    latest = max(checkpoints, key=lambda c: c.sequence) if checkpoints else None
    found = latest.sequence if latest else 0
    if found < recorded or (latest is not None and latest.hash != recorded_hash):
        detail = f"the project log counts {recorded} checkpoints, the latest found is {found}"
        problems.append(Problem("checkpoint_rewound", "", found, detail))
    return problems


def verify_project(
    chains: Sequence[StoredChain],
    checkpoints: Sequence[Checkpoint],
    recorded_checkpoints: int,
    recorded_hash: str,
    recorded_entries: int,
) -> ProjectVerification:
    """Recompute every chain, the checkpoint chain and the latest checkpoint's root.

    `recorded_*` come from the project's log counters, kept apart from the
    checkpoints: fewer checkpoints than counted, or a latest checkpoint whose
    hash is not the one counted, is a rewind. An entry recorded after more
    checkpoints than are found (its epoch) shows a rewind too, counters and all.
    """
    problems: list[Problem] = []
    for chain in sorted(chains, key=lambda c: c.key):
        problems += _chain_problems(chain)
    problems += _checkpoint_problems(checkpoints, recorded_checkpoints, recorded_hash)
    entries = sum(len(c.entries) for c in chains)
    latest = max(checkpoints, key=lambda c: c.sequence) if checkpoints else None
    found = latest.sequence if latest else 0
    epochs = [e.epoch for c in chains for e in c.entries]
    if epochs and max(epochs) > found:
        detail = f"entries were recorded after checkpoint {max(epochs)}; the latest is {found}"
        problems.append(Problem("checkpoint_rewound", "", found, detail))
    if latest is not None:
        leaves = heads_at(chains, latest.sequence)
        covered = sum(1 for c in chains for e in c.entries if e.epoch < latest.sequence)
        if merkle_root(leaves) != latest.root or len(leaves) != latest.chains:
            detail = (
                f"the chains give another root ({len(leaves)} chains, the checkpoint "
                f"recorded {latest.chains})"
            )
            problems.append(Problem("checkpoint_mismatch", "", latest.sequence, detail))
        if covered != latest.entries:
            detail = f"{covered} entries before it, the checkpoint recorded {latest.entries}"
            problems.append(Problem("checkpoint_mismatch", "", latest.sequence, detail))
    if entries != recorded_entries:
        detail = f"{entries} entries found, the project log counts {recorded_entries}"
        problems.append(Problem("checkpoint_mismatch", "", found, detail))
    return ProjectVerification(
        len(chains), entries, len(checkpoints), problems, latest.hash if latest else ""
    )


# Label history -------------------------------------------------------------


@dataclass(frozen=True)
class LabelDiff:
    """What changed between two versions' labels."""

    added: list[Label]
    removed: list[Label]
    changed: list[tuple[Label, Label]]


def label_identity(label: Label) -> tuple[str, str]:
    """What makes two labels "the same label" across versions: kind and class name."""
    kind = label.WhichOneof("kind") or ""
    name = getattr(getattr(label, kind), "label", "") if kind else ""
    return kind, name


def _keyed(labels: Sequence[Label]) -> dict[tuple[str, str, int], Label]:
    seen: dict[tuple[str, str], int] = {}
    keyed = {}
    for label in labels:
        identity = label_identity(label)
        seen[identity] = seen.get(identity, -1) + 1
        keyed[(*identity, seen[identity])] = label
    return keyed


def diff_labels(before: Sequence[Label], after: Sequence[Label]) -> LabelDiff:
    """Labels added, removed and changed from `before` to `after`.

    Labels pair up by kind and class name, the n-th of a kind and class in one
    version with the n-th in the other; a pair whose geometry, confidence or
    source differs is a change.
    """
    old, new = _keyed(before), _keyed(after)
    added = [label for key, label in new.items() if key not in old]
    removed = [label for key, label in old.items() if key not in new]
    changed = [
        (old[key], label)
        for key, label in new.items()
        if key in old
        and old[key].SerializeToString(deterministic=True)
        != label.SerializeToString(deterministic=True)
    ]
    return LabelDiff(added, removed, changed)


@dataclass(frozen=True)
class LabelEvent:
    """An event that set labels: which annotation slot, and how."""

    key: str
    labels: list[Label]
    # True when the event adds its labels to the slot's current ones (an
    # accepted suggestion) instead of replacing them.
    adds: bool = False


def label_event(envelope: Envelope) -> LabelEvent | None:
    """The labels an event sets, and the slot they belong to; None for other events.

    Slots: a task's submissions and accepted suggestions share "task:<id>"; an
    auto-accepted prediction is "annotation:<id>"; the item's final labels
    (completion, adjudication) are "final". Review decisions carry no labels.
    """
    payload = envelope.WhichOneof("payload")
    if payload == "annotation_submitted":
        submitted = envelope.annotation_submitted
        return LabelEvent(f"task:{submitted.task_id}", list(submitted.labels))
    if payload == "suggestion_accepted":
        accepted = envelope.suggestion_accepted
        return LabelEvent(f"task:{accepted.task_id}", [accepted.label], adds=True)
    if payload == "annotation_auto_accepted":
        auto = envelope.annotation_auto_accepted
        return LabelEvent(f"annotation:{auto.annotation_id}", list(auto.labels))
    if payload == "adjudication_decided":
        return LabelEvent("final", list(envelope.adjudication_decided.labels))
    if payload == "item_completed":
        return LabelEvent("final", list(envelope.item_completed.labels))
    return None


@dataclass(frozen=True)
class LabelVersion:
    """One version of a slot's labels."""

    version: int
    entry: AuditEntry
    labels: list[Label]
    diff: LabelDiff


@dataclass(frozen=True)
class History:
    """The versions of one annotation slot, oldest first."""

    key: str
    versions: list[LabelVersion]


def label_history(trail: Sequence[tuple[AuditEntry, Envelope]]) -> list[History]:
    """Every label version of an item's chain (in chain order), per slot, with
    each version's diff from the slot's previous one. Slots are in the order
    they first appear; an event that repeats a slot's labels exactly is no new
    version."""
    histories: dict[str, History] = {}
    for entry, envelope in trail:
        event = label_event(envelope)
        if event is None:
            continue
        history = histories.setdefault(event.key, History(event.key, []))
        previous = history.versions[-1].labels if history.versions else []
        labels = list(event.labels)
        if event.adds:
            present = {label.SerializeToString(deterministic=True) for label in previous}
            extra = [x for x in labels if x.SerializeToString(deterministic=True) not in present]
            labels = [*previous, *extra]
        diff = diff_labels(previous, labels)
        if history.versions and not (diff.added or diff.removed or diff.changed):
            continue
        history.versions.append(LabelVersion(len(history.versions) + 1, entry, labels, diff))
    return list(histories.values())
