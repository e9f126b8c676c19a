"""The JSONL export reads back, line by line, into the items it was made of."""

from __future__ import annotations

import json

from google.protobuf import json_format

from labelmesh.dataset import views
from labelmesh.testing.twins.dataset import box, cls
from labelmesh.v1.dataset_service_pb2 import DatasetItem, LabelLineage


def test_each_jsonl_line_parses_back_into_its_item() -> None:
    items = [
        DatasetItem(item_id="i1", labels=[box("cat", confidence=0.9, model="yolo")], split="train"),
        DatasetItem(
            item_id="i2",
            text="a goal",
            metadata={"site": "a"},
            labels=[cls("dog")],
            lineage=LabelLineage(annotation_id="a2", annotators=["ann"], audit_chain="i2"),
        ),
    ]
    lines = views.jsonl(items).splitlines()
    assert [json_format.ParseDict(json.loads(line), DatasetItem()) for line in lines] == items
