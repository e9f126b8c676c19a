"""Apache Parquet tables of text items, for pandas, Polars, Spark or Hugging
Face `datasets`.

Layout: `<split>.parquet` for every split of the version, with no row when no
item is in it. One row per text item, columns:

- item_id: string
- text: string
- labels: list<string>, the item's classification labels in their order
- split: string
- entities: list<struct<label: string, start: int32, end: int32, text: string>>,
  its text spans as stored: character offsets, end exclusive; `text` is the
  covered text (read from the item's text when the span does not carry it)
- metadata: map<string, string>, the upload metadata, by key

Rows are written in row groups of ROWS_PER_GROUP, so memory holds one group
per split. Items other than text are skipped; labels other than
classifications and text spans are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from labelmesh.dataset.exports.base import ExportContext, Media, split_of
from labelmesh.v1.dataset_service_pb2 import DatasetItem
from labelmesh.v1.events_pb2 import DataType

ROWS_PER_GROUP = 1000

ENTITY = pa.struct(
    [
        pa.field("label", pa.string()),
        pa.field("start", pa.int32()),
        pa.field("end", pa.int32()),
        pa.field("text", pa.string()),
    ]
)
SCHEMA = pa.schema(
    [
        pa.field("item_id", pa.string()),
        pa.field("text", pa.string()),
        pa.field("labels", pa.list_(pa.string())),
        pa.field("split", pa.string()),
        pa.field("entities", pa.list_(ENTITY)),
        pa.field("metadata", pa.map_(pa.string(), pa.string())),
    ]
)


@dataclass
class _Rows:
    """The rows of one split's next row group, by column."""

    columns: dict[str, list[Any]] = field(
        default_factory=lambda: {name: [] for name in SCHEMA.names}
    )

    def __len__(self) -> int:
        return len(self.columns["item_id"])


class Writer:
    def __init__(self, context: ExportContext) -> None:
        self._context = context
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._rows: dict[str, _Rows] = {}
        for split in context.splits:
            self._open(split)

    def add(self, item: DatasetItem, image: Media | None) -> None:
        if item.data_type != DataType.DATA_TYPE_TEXT:
            return
        split = split_of(item)
        if split not in self._writers:
            self._open(split)
        rows = self._rows[split]
        columns = rows.columns
        labels, spans = [], []
        for label in item.labels:
            kind = label.WhichOneof("kind")
            if kind == "classification":
                labels.append(label.classification.label)
            elif kind == "text_span":
                span = label.text_span
                text = span.text or item.text[span.start : span.end]
                spans.append(
                    {"label": span.label, "start": span.start, "end": span.end, "text": text}
                )
        columns["item_id"].append(item.item_id)
        columns["text"].append(item.text)
        columns["labels"].append(labels)
        columns["split"].append(split)
        columns["entities"].append(spans)
        columns["metadata"].append(sorted(item.metadata.items()))
        if len(rows) >= ROWS_PER_GROUP:
            self._write(split)

    def finish(self) -> None:
        splits = self._context.splits
        for split in [*splits, *sorted(set(self._writers) - set(splits))]:
            if len(self._rows[split]):
                self._write(split)
            self._writers[split].close()
            name = f"{split}.parquet"
            self._context.archive.write_file(name, self._context.workdir / name)

    def _open(self, split: str) -> None:
        path = self._context.workdir / f"{split}.parquet"
        self._writers[split] = pq.ParquetWriter(path, SCHEMA)
        self._rows[split] = _Rows()

    def _write(self, split: str) -> None:
        table = pa.Table.from_pydict(self._rows[split].columns, schema=SCHEMA)
        self._writers[split].write_table(table)
        self._rows[split] = _Rows()
