"""CoNLL-2003 exports, read back with spaCy's own CoNLL NER converter."""

from __future__ import annotations

from pathlib import Path

from spacy.tokens import Doc
from spacy.training.converters import conll_ner_to_docs  # type: ignore[attr-defined]

from labelmesh.testing.exports import Sample, export_sample, text_sample
from labelmesh.v1.dataset_service_pb2 import ArchiveFormat, DatasetItem, ExportFormat
from labelmesh.v1.events_pb2 import DatasetVersion, DataType
from labelmesh.v1.geometry_pb2 import Classification, Label, TextSpan


def _read(path: Path) -> list[Doc]:
    text = path.read_text(encoding="utf-8")
    return list(conll_ner_to_docs(text, no_print=True))  # type: ignore[no-untyped-call]


def _entities(doc: Doc, text: str) -> list[tuple[str, int, int, str]]:
    """The doc's entities with offsets into the original text: the converter
    rebuilds the text with one space between tokens, so each token is found
    again, in order, in the original."""
    offsets, position = [], 0
    for token in doc:
        start = text.index(token.text, position)
        position = start + len(token.text)
        offsets.append((start, position))
    return [
        (ent.label_, offsets[ent.start][0], offsets[ent.end - 1][1], ent.text) for ent in doc.ents
    ]


def _stored(item: DatasetItem) -> list[tuple[str, int, int, str]]:
    spans = [label.text_span for label in item.labels if label.HasField("text_span")]
    return [(span.label, span.start, span.end, span.text) for span in spans]


def test_entities_read_back_with_their_offsets_per_split(tmp_path: Path) -> None:
    sample = text_sample()
    out = tmp_path / "export"
    unpacked = export_sample(sample, ExportFormat.EXPORT_FORMAT_CONLL2003, out)

    assert sorted(p.name for p in unpacked.iterdir()) == ["train.conll", "val.conll"]
    classes = set(sample.version.classes)
    for split in ("train", "val"):
        items = [item for item in sample.items if item.split == split]
        docs = _read(unpacked / f"{split}.conll")
        assert len(docs) == len(items)
        for doc, item in zip(docs, items, strict=True):
            assert "".join(t.text for t in doc) == "".join(item.text.split())
            assert _entities(doc, item.text) == _stored(item)
            assert {ent.label_ for ent in doc.ents} <= classes
    lines = (unpacked / "train.conll").read_text(encoding="utf-8").splitlines()
    assert lines[:3] == ["-DOCSTART- -X- O O", "", "Alice -X- _ B-PER"]


def _text_item(item_id: str, text: str, spans: list[tuple[str, int, int]]) -> DatasetItem:
    return DatasetItem(
        item_id=item_id,
        data_type=DataType.DATA_TYPE_TEXT,
        text=text,
        labels=[
            Label(text_span=TextSpan(label=c, start=s, end=e, text=text[s:e])) for c, s, e in spans
        ]
        + [Label(classification=Classification(label="news"))],
    )


def test_sentences_alignment_and_skipped_items_in_a_tar(tmp_path: Path) -> None:
    text = "Alice  lives in New York City.\nShe works at Yahoo! Inc. on Acme today."
    acme = text.index("Acme")
    items = [
        _text_item(
            "t-0",
            text,
            [
                ("PER", 0, 5),
                ("LOC", 16, 24),  # "New York", inside the longer span below
                ("LOC", 16, 29),  # "New York City"
                ("ORG", text.index("Yahoo"), text.index(" on")),  # across a sentence end
                ("ORG", acme, acme + 3),  # "Acm": widened to the whole token
                ("ORG", 3, 3),  # empty: left out
                ("ORG", 60, 200),  # outside the text: left out
            ],
        ),
        DatasetItem(item_id="img-0", data_type=DataType.DATA_TYPE_IMAGE, media_key="k"),
        _text_item("t-1", "   ", []),
        _text_item("t-2", "Bob", [("PER", 0, 3)]),
    ]
    version = DatasetVersion(version_id="v" * 64, classes=["PER", "ORG", "LOC", "news"])
    unpacked = export_sample(
        Sample(items, {}, version),
        ExportFormat.EXPORT_FORMAT_CONLL2003,
        tmp_path / "export",
        archive=ArchiveFormat.ARCHIVE_FORMAT_TAR,
    )

    assert [p.name for p in unpacked.iterdir()] == ["all.conll"]
    first, second = _read(unpacked / "all.conll")
    assert _entities(first, text) == [
        ("PER", 0, 5, "Alice"),
        ("LOC", 16, 29, "New York City"),
        ("ORG", text.index("Yahoo"), text.index(" on"), "Yahoo ! Inc."),
        ("ORG", acme, acme + 4, "Acme"),
    ]
    assert [sent.text.split()[0] for sent in first.sents] == ["Alice", "She"]
    assert _entities(second, "Bob") == [("PER", 0, 3, "Bob")]
    lines = (unpacked / "all.conll").read_text(encoding="utf-8").splitlines()
    assert all(len(line.split()) == 4 for line in lines if line)
    assert lines.count("-DOCSTART- -X- O O") == 2
