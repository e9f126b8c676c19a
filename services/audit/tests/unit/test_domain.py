from dataclasses import replace

from labelmesh.audit.domain import (
    ChainLink,
    chain_key,
    entry_hash,
    extend_chains,
    link_of,
    new_heads,
    verify,
)
from labelmesh.audit.records import ChainHead
from labelmesh.v1.events_pb2 import Envelope


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
