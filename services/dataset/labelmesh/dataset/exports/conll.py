"""CoNLL-2003 named entities: one token a line, in whitespace-separated columns.

Layout: `<split>.conll` for every split of the version, empty when no item is
in it. Each text item is one document:

    -DOCSTART- -X- O O

    Alice -X- _ B-PER
    works -X- _ O
    ...
    . -X- _ O

    Then -X- _ O
    ...

The columns are the token, its part of speech and its syntactic chunk, which
LabelMesh does not have (`-X-` and `_` stand in), and its entity tag in IOB2:
B- opens every entity and I- continues it. (The 2003 files used IOB1, where
B- marks only an entity that directly follows one of the same class.) The
document line is spaCy's, the exact line its CoNLL converter splits documents
on; the original files' `-DOCSTART- -X- -X- O` is not recognised by it, and
readers that look for a line starting with `-DOCSTART-` take either.

Tokens and sentences come from a blank spaCy English pipeline and its
sentencizer; a blank line separates sentences, except that a sentence never
ends inside an entity. Whitespace tokens are dropped, and whitespace inside a
token or a class name is written as `_`, so that the columns stay four.
Entities are aligned to whole tokens as in the DocBin export (see
`docbin.entities`): a span cutting a token is widened to it, and empty,
out-of-text, whitespace-only and overlapped spans are left out.

Items with no token are skipped, as are items other than text;
classifications and other labels are left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import spacy
from spacy.tokens import Doc, Span

from labelmesh.dataset.exports.base import ExportContext, Media, split_of
from labelmesh.dataset.exports.docbin import entities
from labelmesh.v1.dataset_service_pb2 import DatasetItem
from labelmesh.v1.events_pb2 import DataType

DOCUMENT_START = "-DOCSTART- -X- O O\n\n"
# The part-of-speech and chunk columns.
PLACEHOLDERS = "-X- _"


class Writer:
    def __init__(self, context: ExportContext) -> None:
        self._context = context
        self._nlp = spacy.blank("en")
        self._nlp.add_pipe("sentencizer")
        self._files: dict[str, TextIO] = {}
        for split in context.splits:
            self._file(split)

    def add(self, item: DatasetItem, image: Media | None) -> None:
        if item.data_type != DataType.DATA_TYPE_TEXT:
            return
        doc = self._nlp(item.text)
        document = conll_document(doc, entities(doc, item))
        if document:
            self._file(split_of(item)).write(document)

    def finish(self) -> None:
        splits = self._context.splits
        for split in [*splits, *sorted(set(self._files) - set(splits))]:
            self._files[split].close()
            self._context.archive.write_file(f"{split}.conll", self._path(split))

    def _file(self, split: str) -> TextIO:
        file = self._files.get(split)
        if file is None:
            file = self._files[split] = self._path(split).open("w", encoding="utf-8", newline="\n")
        return file

    def _path(self, split: str) -> Path:
        return self._context.workdir / f"{split}.conll"


def conll_document(doc: Doc, ents: list[Span]) -> str:
    """The document's lines, or "" when it has no token."""
    tags = ["O"] * len(doc)
    for ent in ents:
        label = _column(ent.label_)
        tags[ent.start] = "B-" + label
        for i in range(ent.start + 1, ent.end):
            tags[i] = "I-" + label
    lines = [DOCUMENT_START]
    sentence_break = False
    for token, tag in zip(doc, tags, strict=True):
        if token.is_sent_start and len(lines) > 1:
            sentence_break = True
        if token.is_space:
            continue
        if sentence_break and not tag.startswith("I-"):
            lines.append("\n")
        sentence_break = False
        lines.append(f"{_column(token.text)} {PLACEHOLDERS} {tag}\n")
    if len(lines) == 1:
        return ""
    lines.append("\n")
    return "".join(lines)


def _column(text: str) -> str:
    return "_".join(text.split())
