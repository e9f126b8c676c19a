import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from labelmesh.audit.domain import (
    MIN_WINDOW,
    ChainLink,
    Cursor,
    LabelDiff,
    StoredChain,
    after_cursor,
    chain_key,
    checkpoint_hash,
    decode_cursor,
    diff_labels,
    encode_cursor,
    entry_hash,
    extend_chains,
    heads_at,
    label_history,
    link_of,
    merkle_root,
    new_heads,
    next_checkpoint,
    next_window,
    verify,
    verify_project,
)
from labelmesh.audit.records import AuditEntry, ChainHead
from labelmesh.core.errors import InvalidField
from labelmesh.v1.events_pb2 import (
    AnnotationAutoAccepted,
    AnnotationSubmitted,
    Envelope,
    ItemCompleted,
    ReviewDecided,
    SuggestionAccepted,
)
from labelmesh.v1.geometry_pb2 import BoundingBox, Classification, Label


def chain(payloads: list[bytes]) -> list[ChainLink]:
    links, previous = [], ""
    for sequence, payload in enumerate(payloads):
        digest = entry_hash(previous, payload)
        links.append(ChainLink(sequence, previous, digest, payload))
        previous = digest
    return links


def test_intact_chain_verifies() -> None:
    result = verify(chain([b"a", b"b", b"c"]))
    assert (result.intact, result.checked, result.first_bad_sequence) == (True, 3, None)


def test_altered_event_breaks_the_chain_at_that_entry() -> None:
    links = chain([b"a", b"b", b"c"])
    links[1] = replace(links[1], envelope_bytes=b"B")
    result = verify(links)
    assert (result.intact, result.first_bad_sequence) == (False, 1)


def test_removed_entry_breaks_the_chain() -> None:
    links = chain([b"a", b"b", b"c"])
    del links[1]
    assert verify(links).first_bad_sequence == 1


def test_rehashed_entry_still_breaks_its_successor() -> None:
    links = chain([b"a", b"b", b"c"])
    forged = entry_hash(links[0].hash, b"B")
    links[1] = replace(links[1], envelope_bytes=b"B", hash=forged)
    assert verify(links).first_bad_sequence == 2


def test_chain_key_falls_back_to_the_project() -> None:
    assert chain_key(Envelope(item_id="i", project_id="p")) == "i"
    assert chain_key(Envelope(project_id="p")) == "project:p"


def test_extending_chains_continues_each_from_its_head() -> None:
    first = Envelope(event_id="e1", item_id="i1", event_type="t", producer="ingest")
    second = Envelope(event_id="e2", item_id="i2")
    third = Envelope(event_id="e3", item_id="i1")
    head = ChainHead("i1", 4, "abc")
    entries = extend_chains({"i1": head}, [first, second, third])
    assert [(e.chain, e.sequence) for e in entries] == [("i1", 5), ("i2", 0), ("i1", 6)]
    assert entries[0].previous_hash == "abc"
    assert entries[0].hash == entry_hash("abc", entries[0].envelope)
    assert entries[1].previous_hash == ""
    assert entries[2].previous_hash == entries[0].hash
    assert (entries[0].event_type, entries[0].producer) == ("t", "ingest")
    assert entries[0].actor == "KIND_UNSPECIFIED:"
    assert new_heads(entries) == {
        "i1": ChainHead("i1", 6, entries[2].hash),
        "i2": ChainHead("i2", 0, entries[1].hash),
    }
    assert verify([link_of(e) for e in entries if e.chain == "i2"]).intact


def test_a_cursor_survives_its_token_and_a_bad_token_names_the_field() -> None:
    cursor = Cursor(datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC), "e1", timedelta(seconds=3), 7)
    assert decode_cursor(encode_cursor(cursor)) == cursor
    assert decode_cursor(encode_cursor(Cursor())) == Cursor()
    for bad in ("not base64!", "eyJ0IjogMX0=", encode_cursor(Cursor())[:-4]):
        with pytest.raises(InvalidField) as refused:
            decode_cursor(bad)
        assert refused.value.field == "page_token"


def test_the_next_window_aims_at_a_page_and_at_most_doubles() -> None:
    second = timedelta(seconds=1)
    assert next_window(second, 0, 100) == 2 * second
    assert next_window(second, 10, 100) == 2 * second
    assert next_window(second, 400, 100) == second / 4
    assert next_window(MIN_WINDOW, 10_000, 100) == MIN_WINDOW


def test_entries_after_a_cursor_break_ties_on_the_event_id() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    entries = extend_chains({}, [Envelope(event_id=i, item_id="i") for i in ("a", "b", "c")])
    timed = [replace(e, occurred_at=at) for e in entries]
    assert [e.event_id for e in after_cursor(timed, Cursor(at, "a"))] == ["b", "c"]
    assert [e.event_id for e in after_cursor(timed, Cursor(at, ""))] == ["a", "b", "c"]
    assert after_cursor(timed, Cursor(at + timedelta(milliseconds=1), "")) == []


def test_the_merkle_root_covers_every_head_in_any_order() -> None:
    heads = [("i1", 3, "a" * 64), ("i2", 0, "b" * 64), ("i3", 7, "c" * 64)]
    root = merkle_root(heads)
    assert root == merkle_root(list(reversed(heads)))
    assert merkle_root(heads[:2]) != root
    assert merkle_root([("i1", 4, "a" * 64), *heads[1:]]) != root
    assert merkle_root([("i1", 3, "d" * 64), *heads[1:]]) != root
    leaf = hashlib.sha256(b"\x00" + f"i1\n3\n{'a' * 64}".encode()).hexdigest()
    assert merkle_root(heads[:1]) == leaf
    assert merkle_root([]) == hashlib.sha256(b"").hexdigest()


def test_checkpoints_chain_to_the_previous_one() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    first = next_checkpoint("p", 1, "", at, [("i1", 0, "a")], 1)
    second = next_checkpoint("p", 2, first.hash, at, [("i1", 1, "b")], 2)
    assert (first.chains, first.entries, first.previous_hash) == (1, 1, "")
    assert second.previous_hash == first.hash
    assert second.hash == checkpoint_hash("p", 2, at, second.root, 1, 2, first.hash)
    assert next_checkpoint("p", 2, "other", at, [("i1", 1, "b")], 2).hash != second.hash


def cls(name: str, confidence: float = 1.0) -> Label:
    return Label(classification=Classification(label=name), confidence=confidence)


def box(name: str, x: float) -> Label:
    return Label(bounding_box=BoundingBox(label=name, x=x, y=0, width=1, height=1))


def test_a_label_diff_pairs_labels_by_kind_and_class() -> None:
    before = [cls("cat"), box("car", 1), box("car", 5)]
    after = [cls("cat", 0.5), box("car", 1), cls("dog")]
    diff = diff_labels(before, after)
    assert diff.added == [cls("dog")]
    assert diff.removed == [box("car", 5)]
    assert diff.changed == [(cls("cat"), cls("cat", 0.5))]
    assert diff_labels(after, after) == LabelDiff([], [], [])


def entry_of(envelope: Envelope) -> AuditEntry:
    return extend_chains({}, [envelope])[0]


def test_label_history_groups_versions_per_slot_with_their_diffs() -> None:
    events = [
        Envelope(event_id="1", suggestion_accepted=SuggestionAccepted(task_id="t", label=cls("a"))),
        Envelope(
            event_id="2",
            annotation_submitted=AnnotationSubmitted(task_id="t", labels=[cls("a"), cls("b")]),
        ),
        Envelope(event_id="3", review_decided=ReviewDecided(annotation_id="x")),
        Envelope(
            event_id="4", annotation_submitted=AnnotationSubmitted(task_id="t", labels=[cls("b")])
        ),
        Envelope(
            event_id="5", annotation_submitted=AnnotationSubmitted(task_id="t", labels=[cls("b")])
        ),
        Envelope(event_id="6", item_completed=ItemCompleted(labels=[cls("b")])),
        Envelope(
            event_id="7",
            annotation_auto_accepted=AnnotationAutoAccepted(annotation_id="m", labels=[cls("c")]),
        ),
    ]
    histories = label_history([(entry_of(e), e) for e in events])
    assert [h.key for h in histories] == ["task:t", "final", "annotation:m"]
    task = histories[0].versions
    assert [(v.version, v.entry.event_id) for v in task] == [(1, "1"), (2, "2"), (3, "4")]
    assert task[0].diff.added == [cls("a")]
    assert task[1].diff == LabelDiff([cls("b")], [], [])
    assert task[2].diff == LabelDiff([], [cls("a")], [])
    assert task[2].labels == [cls("b")]
    assert histories[1].versions[0].labels == [cls("b")]


def stored_chain(key: str, count: int, epoch: int = 0) -> StoredChain:
    entries = extend_chains(
        {}, [Envelope(event_id=f"{key}-{n}", item_id=key) for n in range(count)]
    )
    entries = [replace(e, epoch=epoch) for e in entries]
    last = entries[-1]
    return StoredChain(key, entries, ChainHead(key, last.sequence, last.hash))


def test_a_project_verifies_against_its_checkpoints() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    chains = [stored_chain("i1", 3), stored_chain("i2", 2)]
    leaves = heads_at(chains, 1)
    first = next_checkpoint("p", 1, "", at, leaves, 5)
    result = verify_project(chains, [first], 1, first.hash, 5)
    assert result.intact and (result.chains, result.entries, result.checkpoints) == (2, 5, 1)
    assert result.checkpoint_hash == first.hash

    gone = verify_project(chains[:1], [first], 1, first.hash, 5)
    assert {p.kind for p in gone.problems} == {"checkpoint_mismatch"}
    rewound = verify_project(chains, [first], 2, "later", 5)
    assert {p.kind for p in rewound.problems} == {"checkpoint_rewound"}
    later = [*chains, stored_chain("i3", 1, epoch=2)]
    uncounted = verify_project(later, [first], 1, first.hash, 6)
    assert {p.kind for p in uncounted.problems} == {"checkpoint_rewound"}
    headless = StoredChain("i1", chains[0].entries, None)
    assert [p.kind for p in verify_project([headless], [], 0, "", 3).problems] == ["head_mismatch"]
