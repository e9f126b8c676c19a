"""spaCy DocBin exports, read back with spaCy's DocBin."""

from __future__ import annotations

from pathlib import Path

import pytest
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from labelmesh.dataset.exports import docbin
from labelmesh.testing.exports import TEXT_CLASSES, Sample, export_sample, text_sample
from labelmesh.v1.dataset_service_pb2 import ArchiveFormat, DatasetItem, ExportFormat
from labelmesh.v1.events_pb2 import DatasetVersion, DataType
from labelmesh.v1.geometry_pb2 import Classification, Label, TextSpan


def _read(path: Path) -> list[Doc]:
    return list(DocBin().from_disk(path).get_docs(Vocab()))


def _stored(item: DatasetItem) -> list[tuple[str, int, int, str]]:
    spans = [label.text_span for label in item.labels if label.HasField("text_span")]
    return [(span.label, span.start, span.end, span.text) for span in spans]


def _ents(doc: Doc) -> list[tuple[str, int, int, str]]:
    return [(ent.label_, ent.start_char, ent.end_char, ent.text) for ent in doc.ents]


def test_entities_classes_and_ids_read_back_per_split(tmp_path: Path) -> None:
    sample = text_sample()
    sample.items[0].metadata["source"] = "news-feed"
    unpacked = export_sample(sample, ExportFormat.EXPORT_FORMAT_SPACY_DOCBIN, tmp_path / "export")

    files = sorted(str(p.relative_to(unpacked)) for p in unpacked.rglob("*.spacy"))
    assert files == ["train/00000.spacy", "val/00000.spacy"]
    for split in ("train", "val"):
        items = [item for item in sample.items if item.split == split]
        docs = _read(unpacked / split / "00000.spacy")
        assert [doc.text for doc in docs] == [item.text for item in items]
        for doc, item in zip(docs, items, strict=True):
            assert _ents(doc) == _stored(item)
            classes = {label.classification.label for label in item.labels} - {""}
            assert doc.cats == {c: 1.0 if c in classes else 0.0 for c in TEXT_CLASSES}
            assert list(doc.cats) == TEXT_CLASSES
            assert doc.user_data == {"item_id": item.item_id, "metadata": dict(item.metadata)}
    assert _read(unpacked / "train" / "00000.spacy")[0].user_data["metadata"] == {
        "source": "news-feed"
    }


def _text_item(n: int, text: str, spans: list[tuple[str, int, int]], cls: str) -> DatasetItem:
    return DatasetItem(
        item_id=f"t-{n:05d}",
        data_type=DataType.DATA_TYPE_TEXT,
        text=text,
        split="train" if n % 2 == 0 else "val",
        labels=[
            Label(text_span=TextSpan(label=c, start=s, end=e, text=text[s:e])) for c, s, e in spans
        ]
        + [Label(classification=Classification(label=cls))],
    )


def test_files_of_at_most_docs_per_file_in_a_tar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # spaCy reads user data back at some milliseconds a doc: small files keep the test fast.
    monkeypatch.setattr(docbin, "DOCS_PER_FILE", 4)
    items = [
        _text_item(n, f"Ann met Bob {n} times.", [("PER", 0, 3), ("PER", 8, 11)], "social")
        for n in range(19)
    ]
    text = "Alice  visited New York."
    # "Ali" is widened to the token, "New" loses to the longer "New York", an
    # empty and an out-of-text span are left out.
    items[6] = _text_item(
        6, text, [("PER", 0, 3), ("LOC", 15, 18), ("LOC", 15, 23), ("X", 2, 2), ("X", 9, 99)], "x"
    )
    items.insert(3, DatasetItem(item_id="img", data_type=DataType.DATA_TYPE_IMAGE, split="val"))
    version = DatasetVersion(version_id="v" * 64, classes=["PER", "LOC", "social"])
    version.split.ratios.update({"train": 0.5, "val": 0.4, "test": 0.1})
    unpacked = export_sample(
        Sample(items, {}, version),
        ExportFormat.EXPORT_FORMAT_SPACY_DOCBIN,
        tmp_path / "export",
        archive=ArchiveFormat.ARCHIVE_FORMAT_TAR,
        chunk=3,
    )

    files = sorted(str(p.relative_to(unpacked)) for p in unpacked.rglob("*.spacy"))
    assert files == [
        "test/00000.spacy",
        *(f"train/{n:05d}.spacy" for n in range(3)),
        *(f"val/{n:05d}.spacy" for n in range(3)),
    ]
    assert _read(unpacked / "test" / "00000.spacy") == []
    text_items = [item for item in items if item.data_type == DataType.DATA_TYPE_TEXT]
    for split, sizes in (("train", [4, 4, 2]), ("val", [4, 4, 1])):
        docs = [_read(unpacked / split / f"{n:05d}.spacy") for n in range(3)]
        assert [len(part) for part in docs] == sizes
        read = [doc for part in docs for doc in part]
        expected = [item for item in text_items if item.split == split]
        assert [doc.user_data["item_id"] for doc in read] == [i.item_id for i in expected]
        for doc, item in zip(read, expected, strict=True):
            if item.item_id == "t-00006":
                assert _ents(doc) == [("PER", 0, 5, "Alice"), ("LOC", 15, 23, "New York")]
                assert doc.cats == {"PER": 0.0, "LOC": 0.0, "social": 0.0, "x": 1.0}
            else:
                assert _ents(doc) == _stored(item)
                assert doc.cats == {"PER": 0.0, "LOC": 0.0, "social": 1.0}
