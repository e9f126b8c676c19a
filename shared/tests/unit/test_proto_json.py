"""The fast JSON form of messages equals json_format's, field for field."""

from __future__ import annotations

import math

import pytest
from google.protobuf.message import Message

from labelmesh.core.labels import message_to_json
from labelmesh.core.proto_json import to_json
from labelmesh.testing.exports import audio_sample, image_sample, text_sample
from labelmesh.v1.dataset_service_pb2 import DatasetItem, DownloadExportResponse, ExportJob
from labelmesh.v1.events_pb2 import DatasetVersion, ModelRef
from labelmesh.v1.geometry_pb2 import BoundingBox, Label


def _lineaged() -> DatasetItem:
    item = image_sample().items[0]
    item.lineage.annotation_id = "a1"
    item.lineage.annotators.extend(["ann-1", "ann-2"])
    item.lineage.models.append(ModelRef(id="yolo", version="8"))
    item.lineage.accepted_at.FromMilliseconds(1_796_318_419_005)
    item.sampling_weight = 1.25
    return item


def _odd_numbers() -> Label:
    return Label(
        bounding_box=BoundingBox(label="cat", x=math.nan, y=math.inf, width=-math.inf, height=2.0),
        confidence=0.1 + 0.2,
    )


def _at(seconds: int, nanos: int) -> DatasetVersion:
    version = DatasetVersion()
    version.created_at.seconds, version.created_at.nanos = seconds, nanos
    return version


def _version() -> DatasetVersion:
    version = image_sample().version
    version.item_count = 2**40
    version.class_counts.update({"cat": 3, "dog": 2**33})
    version.split_counts["train"] = 1
    return version


MESSAGES: list[Message] = [
    *image_sample().items,
    *text_sample().items,
    *audio_sample().items,
    _lineaged(),
    _odd_numbers(),
    _version(),
    # Timestamps before the epoch, and with whole seconds, milli-, micro- and nanoseconds.
    _at(-86_401, 0),
    _at(1_796_318_419, 5_000_000),
    _at(1_796_318_419, 5_000),
    _at(1_796_318_419, 5),
    _at(253_402_300_799, 999_999_999),
    DatasetItem(),
    ExportJob(job_id="j", state=3, size_bytes=12),
    DownloadExportResponse(offset=5, data=b"\x00\xffbytes", size_bytes=9),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_the_json_equals_json_formats(message: Message) -> None:
    assert to_json(message) == message_to_json(message)


def test_an_unknown_enum_number_is_kept_as_a_number() -> None:
    assert to_json(ExportJob(state=42))["state"] == message_to_json(ExportJob(state=42))["state"]
