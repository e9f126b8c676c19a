"""Parquet exports, read back with pyarrow."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from labelmesh.testing.exports import Sample, export_sample, text_sample
from labelmesh.v1.dataset_service_pb2 import ArchiveFormat, DatasetItem, ExportFormat
from labelmesh.v1.events_pb2 import DatasetVersion, DataType
from labelmesh.v1.geometry_pb2 import BoundingBox, Classification, Label, TextSpan

ENTITY = pa.struct(
    [("label", pa.string()), ("start", pa.int32()), ("end", pa.int32()), ("text", pa.string())]
)
COLUMNS = {
    "item_id": pa.string(),
    "text": pa.string(),
    "labels": pa.list_(pa.string()),
    "split": pa.string(),
    "entities": pa.list_(ENTITY),
    "metadata": pa.map_(pa.string(), pa.string()),
}


def _row(item: DatasetItem) -> dict[str, object]:
    """The row an item should read back as."""
    return {
        "item_id": item.item_id,
        "text": item.text,
        "labels": [lb.classification.label for lb in item.labels if lb.HasField("classification")],
        "split": item.split or "all",
        "entities": [
            {"label": s.label, "start": s.start, "end": s.end, "text": s.text}
            for s in (lb.text_span for lb in item.labels if lb.HasField("text_span"))
        ],
        "metadata": sorted(item.metadata.items()),
    }


def test_every_column_reads_back_per_split(tmp_path: Path) -> None:
    sample = text_sample()
    sample.items[0].metadata.update({"source": "feed", "lang": "en"})
    sample.items[0].labels.append(Label(classification=Classification(label="negative")))
    sample.items[1].labels.append(
        Label(bounding_box=BoundingBox(label="PER", x=1, y=1, width=2, height=2))
    )
    unpacked = export_sample(sample, ExportFormat.EXPORT_FORMAT_PARQUET, tmp_path / "export")

    assert sorted(p.name for p in unpacked.iterdir()) == ["train.parquet", "val.parquet"]
    for split in ("train", "val"):
        table = pq.read_table(unpacked / f"{split}.parquet")
        assert table.schema.names == list(COLUMNS)
        assert [field.type for field in table.schema] == list(COLUMNS.values())
        expected = [_row(item) for item in sample.items if item.split == split]
        assert table.to_pylist() == expected
    first = pq.read_table(unpacked / "train.parquet").to_pylist()[0]
    assert first["labels"] == ["positive", "negative"]
    assert first["metadata"] == [("lang", "en"), ("source", "feed")]


def test_row_groups_empty_splits_and_skipped_items_in_a_tar(tmp_path: Path) -> None:
    items = []
    for n in range(2500):
        text = f"Item {n} mentions Rome."
        item = DatasetItem(
            item_id=f"t-{n:05d}",
            data_type=DataType.DATA_TYPE_TEXT,
            text=text,
            split="train",
            labels=[Label(text_span=TextSpan(label="LOC", start=len(text) - 5, end=len(text) - 1))],
        )
        item.metadata["n"] = str(n)
        items.append(item)
    items.insert(7, DatasetItem(item_id="aud", data_type=DataType.DATA_TYPE_AUDIO, split="train"))
    version = DatasetVersion(version_id="v" * 64, classes=["LOC"])
    version.split.ratios.update({"train": 0.9, "val": 0.1})
    unpacked = export_sample(
        Sample(items, {}, version),
        ExportFormat.EXPORT_FORMAT_PARQUET,
        tmp_path / "export",
        archive=ArchiveFormat.ARCHIVE_FORMAT_TAR,
        chunk=300,
    )

    train = pq.ParquetFile(unpacked / "train.parquet")
    groups = [train.metadata.row_group(n).num_rows for n in range(train.metadata.num_row_groups)]
    assert groups == [1000, 1000, 500]
    text_items = [item for item in items if item.data_type == DataType.DATA_TYPE_TEXT]
    rows = train.read().to_pylist()
    # The stored spans carry no text: the column holds the covered text.
    assert rows[3]["entities"] == [{"label": "LOC", "start": 16, "end": 20, "text": "Rome"}]
    for row in rows:
        row["entities"][0]["text"] = ""
    assert rows == [_row(item) for item in text_items]
    val = pq.read_table(unpacked / "val.parquet")
    assert val.num_rows == 0
    assert [field.type for field in val.schema] == list(COLUMNS.values())
