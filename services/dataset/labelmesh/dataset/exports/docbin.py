"""spaCy DocBin, the binary corpus that `spacy train` reads.

Layout: `<split>/<n>.spacy`, numbered from 00000. A DocBin holds its docs in
memory until it is written, so each file holds at most DOCS_PER_FILE docs;
spaCy reads every .spacy file of a directory, in name order, as one corpus
(`--paths.train train/`). Every split of the version has at least one file,
an empty DocBin when no item is in it.

Each text item is one Doc, tokenised by a blank English pipeline, with:
- `ents`: its text spans as whole-token entities. A span that starts or ends
  inside a token is widened to the whole token, and whitespace at its edges is
  trimmed. Spans that are empty, fall outside the text or cover only
  whitespace are left out; of overlapping spans the longest is kept (the
  first of equally long ones).
- `cats`: every class of the version, 1.0 for the item's classification
  labels and 0.0 for the others. Items stream by once, so entity classes
  cannot be told apart from document classes in advance: they are in `cats`
  too, at 0.0 unless also used as a classification. A textcat leaves them out
  by listing its labels in its config.
- `user_data`: {"item_id": ..., "metadata": {...}}.

Items other than text are skipped; labels other than text spans and
classifications are left out.
"""

from __future__ import annotations

import spacy
import srsly.msgpack
from spacy.tokens import Doc, DocBin, Span
from spacy.util import filter_spans

from labelmesh.dataset.exports.base import ExportContext, Media, split_of
from labelmesh.v1.dataset_service_pb2 import DatasetItem
from labelmesh.v1.events_pb2 import DataType

DOCS_PER_FILE = 1000


class Writer:
    def __init__(self, context: ExportContext) -> None:
        self._context = context
        self._nlp = spacy.blank("en")
        self._classes = context.classes
        self._bins: dict[str, DocBin] = {}
        self._files_written: dict[str, int] = {}
        self._packer = srsly.msgpack.Packer(use_bin_type=True)

    def add(self, item: DatasetItem, image: Media | None) -> None:
        if item.data_type != DataType.DATA_TYPE_TEXT:
            return
        doc = self._nlp.make_doc(item.text)
        doc.ents = entities(doc, item)
        doc.cats = self._cats(item)
        doc.user_data["item_id"] = item.item_id
        doc.user_data["metadata"] = dict(sorted(item.metadata.items()))
        split = split_of(item)
        docs = self._bins.get(split)
        if docs is None:
            docs = self._bins[split] = _DocBin(self._packer)
        docs.add(doc)
        if len(docs) >= DOCS_PER_FILE:
            self._write(split)

    def finish(self) -> None:
        splits = self._context.splits
        extra = sorted((set(self._bins) | set(self._files_written)) - set(splits))
        for split in [*splits, *extra]:
            if split in self._bins or split not in self._files_written:
                self._write(split)

    def _cats(self, item: DatasetItem) -> dict[str, float]:
        cats = dict.fromkeys(self._classes, 0.0)
        for label in item.labels:
            if label.WhichOneof("kind") == "classification":
                cats[label.classification.label] = 1.0
        return cats

    def _write(self, split: str) -> None:
        docs = self._bins.pop(split, None) or _DocBin(self._packer)
        number = self._files_written.get(split, 0)
        self._context.archive.write(f"{split}/{number:05d}.spacy", docs.to_bytes())
        self._files_written[split] = number + 1


class _DocBin(DocBin):
    """A DocBin that packs each doc's user data with one reused packer.

    DocBin.add packs it with srsly.msgpack_dumps, which makes a new Packer,
    and so reads every installed package's entry points, on each call: some
    milliseconds a doc. The bytes are the same.
    """

    def __init__(self, packer: srsly.msgpack.Packer) -> None:
        super().__init__(store_user_data=True)
        self._packer = packer

    def add(self, doc: Doc) -> None:
        self.store_user_data = False
        try:
            super().add(doc)
        finally:
            self.store_user_data = True
        self.user_data.append(self._packer.pack(doc.user_data))


def entities(doc: Doc, item: DatasetItem) -> list[Span]:
    """The item's text spans as entities of `doc`: whole tokens, no whitespace
    at the edges, no overlaps (the longest wins), in text order."""
    spans = []
    for label in item.labels:
        if label.WhichOneof("kind") != "text_span":
            continue
        stored = label.text_span
        if stored.end <= stored.start:
            continue
        widened = doc.char_span(stored.start, stored.end, alignment_mode="expand")
        if widened is None:
            continue
        start, end = widened.start, widened.end
        while start < end and doc[start].is_space:
            start += 1
        while end > start and doc[end - 1].is_space:
            end -= 1
        if end > start:
            spans.append(Span(doc, start, end, label=stored.label))
    result: list[Span] = filter_spans(spans)
    return result
