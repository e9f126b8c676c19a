"""Label Studio exports, read back with label-studio-sdk's own converter (COCO,
brush masks, CoNLL, JSON-MIN) and checked against its labelling-config interface."""

from __future__ import annotations

import json
import warnings
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from labelmesh.dataset.exports.base import ExportFailed
from labelmesh.testing.exports import (
    AUDIO_CLASSES,
    IMAGE_CLASSES,
    TEXT_CLASSES,
    Sample,
    audio_sample,
    export_sample,
    image_sample,
    mask_rle,
    png,
    text_sample,
)
from labelmesh.v1.dataset_service_pb2 import ArchiveFormat, DatasetItem, ExportFormat
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import BoundingBox, Classification, Label, Mask, TextSpan

with warnings.catch_warnings():
    # label-studio-sdk 2.0.5 still declares pydantic 1 validators, which
    # pydantic 2 warns about when the SDK is imported.
    warnings.simplefilter("ignore", DeprecationWarning)
    from label_studio_sdk.converter import Converter
    from label_studio_sdk.label_interface import LabelInterface

TASKS = "tasks.json"
CONFIG = "label_config.xml"
# The sizes of image_sample()'s images.
IMAGE_SIZES = {"img-0": (64, 48), "img-1": (48, 40), "img-2": (40, 40)}


def _export(sample: Sample, out: Path, **options: Any) -> Path:
    return export_sample(sample, ExportFormat.EXPORT_FORMAT_LABEL_STUDIO, out, **options)


def _tasks(unpacked: Path) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = json.loads((unpacked / TASKS).read_text(encoding="utf-8"))
    return tasks


def _converter(unpacked: Path) -> Converter:
    return Converter(
        config=str(unpacked / CONFIG), project_dir=str(unpacked), download_resources=False
    )


def _files(unpacked: Path) -> list[str]:
    return sorted(p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file())


def _results(task: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in task["annotations"][0]["result"] if r["type"] == kind]


def _assert_importable(unpacked: Path, unchecked: frozenset[str] = frozenset()) -> LabelInterface:
    """The config is valid and every result fits it, as Label Studio checks
    imported annotations; `unchecked` result types are ones the SDK's
    validator models differently from Label Studio itself."""
    interface = LabelInterface((unpacked / CONFIG).read_text(encoding="utf-8"))
    interface.validate()
    for task in _tasks(unpacked):
        for tag in interface.objects:
            assert task["data"][tag.value_name]
        result = [r for r in task["annotations"][0]["result"] if r["type"] not in unchecked]
        assert interface.validate_prediction({"result": result}, return_errors=True) == []
    return interface


def _mask_bits(mask: Mask) -> NDArray[np.bool_]:
    runs = np.repeat(np.arange(len(mask.counts)) % 2, list(mask.counts)).astype(bool)
    bits: NDArray[np.bool_] = runs.reshape(mask.height, mask.width)
    return bits


def test_boxes_polygons_and_keypoints_read_back_as_coco(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = image_sample()
    unpacked = _export(sample, tmp_path / "export")

    media = [f"media/{item.item_id}.png" for item in sample.items]
    assert _files(unpacked) == sorted([CONFIG, TASKS, *media])
    for item, name in zip(sample.items, media, strict=True):
        assert (unpacked / name).read_bytes() == sample.media[item.item_id]
    # Brush RLE is checked by the brush converter below: the SDK's validator
    # expects (value, count) pairs, which is not Label Studio's brush RLE.
    _assert_importable(unpacked, frozenset({"brushlabels"}))

    # The converter opens each image by the task's path, relative to here.
    monkeypatch.chdir(unpacked)
    _converter(unpacked).convert_to_coco(input_data=TASKS, output_dir=".", is_dir=False)
    coco = json.loads(Path("result.json").read_text(encoding="utf-8"))

    assert [(i["id"], i["file_name"], i["width"], i["height"]) for i in coco["images"]] == [
        (0, media[0], 64, 48),
        (1, media[1], 48, 40),
        (2, media[2], 40, 40),
    ]
    categories = {c["id"]: c for c in coco["categories"]}
    assert {c["name"] for c in categories.values() if "keypoints" not in c} == set(IMAGE_CLASSES)
    boxes, polygons, keypoints = [], [], []
    for annotation in coco["annotations"]:
        name = categories[annotation["category_id"]]["name"]
        if "keypoints" in annotation:
            keypoints.append((annotation["image_id"], annotation))
        elif annotation["segmentation"]:
            polygons.append((annotation["image_id"], name, annotation["segmentation"][0]))
        else:
            boxes.append((annotation["image_id"], name, annotation["bbox"]))

    stored_boxes = [
        (n, b.label, [b.x, b.y, b.width, b.height])
        for n, item in enumerate(sample.items)
        for b in (label.bounding_box for label in item.labels if label.HasField("bounding_box"))
    ]
    assert [(n, name) for n, name, _ in boxes] == [(n, name) for n, name, _ in stored_boxes]
    for (_, _, read), (_, _, stored) in zip(boxes, stored_boxes, strict=True):
        assert read == pytest.approx(stored, abs=1e-6)

    polygon = sample.items[1].labels[0].polygon
    assert [(n, name) for n, name, _ in polygons] == [(1, polygon.label)]
    stored_points = [c for p in polygon.points for c in (p.x, p.y)]
    assert polygons[0][2] == pytest.approx(stored_points, abs=1e-6)

    # The converter rounds keypoints to whole pixels and marks every one
    # labelled; the sample's keypoints are whole pixels.
    pose = sample.items[2].labels[1].keypoints
    [(image_id, annotation)] = keypoints
    order = categories[annotation["category_id"]]["keypoints"]
    assert image_id == 2
    assert order == ["head", "left_hand", "right_hand"]
    read_points = np.reshape(annotation["keypoints"], (-1, 3))[:, :2].tolist()
    assert read_points == [[p.position.x, p.position.y] for p in pose.points]
    task = _tasks(unpacked)[2]
    assert [r["value"].get("hidden", False) for r in _results(task, "keypointlabels")] == [
        False,
        False,
        True,
    ]


def test_image_tasks_carry_ids_splits_classes_and_metadata(tmp_path: Path) -> None:
    sample = image_sample()
    tasks = _tasks(_export(sample, tmp_path / "export"))

    assert [t["id"] for t in tasks] == [1, 2, 3]
    for task, item in zip(tasks, sample.items, strict=True):
        assert task["data"]["labelmesh_item_id"] == item.item_id
        assert task["data"]["labelmesh_media_key"] == item.media_key
        assert task["data"]["split"] == item.split
        assert task["data"]["metadata"] == dict(item.metadata)
        stored = [
            label.classification.label for label in item.labels if label.HasField("classification")
        ]
        read = [c for r in _results(task, "choices") for c in r["value"]["choices"]]
        assert read == stored
        ids = [r["id"] for r in task["annotations"][0]["result"]]
        assert len(set(ids)) == len(ids)
        for result in task["annotations"][0]["result"]:
            if result["type"] != "choices":
                size = IMAGE_SIZES[item.item_id]
                assert (result["original_width"], result["original_height"]) == size
    assert tasks[0]["data"]["metadata"] == {"source": "camera-1"}


def _image_item(item_id: str, masks: list[tuple[str, NDArray[np.uint8]]]) -> DatasetItem:
    height, width = masks[0][1].shape
    return DatasetItem(
        item_id=item_id,
        data_type=DataType.DATA_TYPE_IMAGE,
        media_key=f"projects/p1/items/{item_id}/m",
        content_type="image/png",
        filename=f"{item_id}.png",
        labels=[
            Label(mask=Mask(label=c, width=width, height=height, counts=mask_rle(bits)))
            for c, bits in masks
        ],
    )


def test_masks_read_back_identical_with_the_brush_converter(tmp_path: Path) -> None:
    sample = image_sample()
    # A mask that starts and ends inside, with runs longer than one brush RLE
    # run holds (65,536 bytes: the first 60 rows are 72,000 RGBA bytes).
    big = np.zeros((250, 300), dtype=np.uint8)
    big[:60] = 1
    big[200:, 250:] = 1
    small = np.zeros((250, 300), dtype=np.uint8)
    small[100:110, 7] = 1
    sample.items = [
        sample.items[1],
        _image_item("big", [("dog", big), ("dog", small), ("person", 1 - big)]),
    ]
    sample.media["big"] = png(300, 250)
    unpacked = _export(
        sample, tmp_path / "export", include_media=False, archive=ArchiveFormat.ARCHIVE_FORMAT_TAR
    )

    assert _files(unpacked) == [CONFIG, TASKS]
    assert [t["data"]["image"] for t in _tasks(unpacked)] == [i.media_key for i in sample.items]
    out = tmp_path / "brush"
    out.mkdir()
    _converter(unpacked).convert(str(unpacked / TASKS), str(out), "BRUSH_TO_NUMPY", is_dir=False)

    expected = {
        "task-1-annotation-None-by--mask-cat-0.npy": sample.items[0].labels[1].mask,
        "task-2-annotation-None-by--mask-dog-0.npy": sample.items[1].labels[0].mask,
        "task-2-annotation-None-by--mask-dog-1.npy": sample.items[1].labels[1].mask,
        "task-2-annotation-None-by--mask-person-0.npy": sample.items[1].labels[2].mask,
    }
    assert sorted(p.name for p in out.iterdir()) == sorted(expected)
    for name, mask in expected.items():
        read = np.load(out / name)
        assert np.array_equal(read, _mask_bits(mask).astype(np.uint8) * 255)


def _stored_spans(item: DatasetItem) -> list[tuple[str, int, int, str]]:
    spans = [label.text_span for label in item.labels if label.HasField("text_span")]
    return [(s.label, s.start, s.end, s.text) for s in spans]


def _conll_tags(text: str, tokens: list[str], spans: list[tuple[str, int, int, str]]) -> list[str]:
    """The IOB tag of each token, from the stored spans and the token's offsets
    found again, in order, in the text."""
    tags, position = [], 0
    for token in tokens:
        start = text.index(token, position)
        position = start + len(token)
        inside = [(c, s) for c, s, e, _ in spans if s < position and start < e]
        if not inside:
            tags.append("O")
        else:
            label, span_start = inside[0]
            tags.append(("B-" if start <= span_start else "I-") + label)
    return tags


def test_text_spans_and_classes_read_back_as_conll_and_json_min(tmp_path: Path) -> None:
    sample = text_sample()
    unpacked = _export(sample, tmp_path / "export", archive=ArchiveFormat.ARCHIVE_FORMAT_TAR)

    assert _files(unpacked) == [CONFIG, TASKS]
    interface = _assert_importable(unpacked)
    assert interface.get_control("entity").labels == TEXT_CLASSES
    assert interface.get_control("text_class").labels == TEXT_CLASSES
    converter = _converter(unpacked)

    converter.convert_to_conll2003(str(unpacked / TASKS), str(tmp_path / "conll"), is_dir=False)
    lines = (tmp_path / "conll" / "result.conll").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "-DOCSTART- -X- O"
    documents = "\n".join(lines[1:]).strip("\n").split("\n\n")
    assert len(documents) == len(sample.items)
    for document, item in zip(documents, sample.items, strict=True):
        rows = [line.split(" ") for line in document.splitlines()]
        tokens = [row[0] for row in rows]
        assert [row[3] for row in rows] == _conll_tags(item.text, tokens, _stored_spans(item))
    assert lines[1:8] == [
        "Alice -X- _ B-PER",
        "works -X- _ O",
        "at -X- _ O",
        "Acme -X- _ B-ORG",
        "in -X- _ O",
        "Paris -X- _ B-LOC",
        ". -X- _ O",
    ]

    converter.convert_to_json_min(str(unpacked / TASKS), str(tmp_path / "min"), is_dir=False)
    records = json.loads((tmp_path / "min" / "result.json").read_text(encoding="utf-8"))
    assert [r["id"] for r in records] == [1, 2, 3]
    for record, item in zip(records, sample.items, strict=True):
        assert record["text"] == item.text
        assert record["labelmesh_item_id"] == item.item_id
        assert record["split"] == item.split
        read = [(e["labels"][0], e["start"], e["end"], e["text"]) for e in record["entity"]]
        assert read == _stored_spans(item)
        [sentiment] = [
            label.classification.label for label in item.labels if label.classification.label
        ]
        assert record["text_class"] == sentiment


def test_audio_segments_and_transcriptions(tmp_path: Path) -> None:
    sample = audio_sample()
    unpacked = _export(sample, tmp_path / "export")

    media = [f"media/{item.item_id}.wav" for item in sample.items]
    assert _files(unpacked) == sorted([CONFIG, TASKS, *media])
    for item, name in zip(sample.items, media, strict=True):
        with wave.open(str(unpacked / name)) as recording:
            assert recording.getnframes() > 0
        assert (unpacked / name).read_bytes() == sample.media[item.item_id]
    # The SDK models a `labels` span as text offsets (whole numbers), which
    # Label Studio's audio segments, in seconds, are not.
    interface = _assert_importable(unpacked, frozenset({"labels"}))
    assert interface.get_control("segment").labels == AUDIO_CLASSES
    assert interface.get_control("transcription").tag == "TextArea"
    _converter(unpacked).convert_to_json_min(
        str(unpacked / TASKS), str(tmp_path / "min"), is_dir=False
    )
    records = json.loads((tmp_path / "min" / "result.json").read_text(encoding="utf-8"))
    tasks = _tasks(unpacked)

    assert len(records) == len(tasks) == len(sample.items)
    for record, task, item in zip(records, tasks, sample.items, strict=True):
        assert record["audio"] == f"media/{item.item_id}.wav"
        assert record["split"] == item.split
        transcription = item.labels[0].transcription
        segment = item.labels[1].time_segment
        assert record["transcription"] == transcription.text
        assert record["segment"] == [
            {"start": segment.start_seconds, "end": segment.end_seconds, "labels": [segment.label]}
        ]
        [timed] = _results(task, "textarea")
        assert timed["value"] == {
            "start": transcription.start_seconds,
            "end": transcription.end_seconds,
            "text": [transcription.text],
        }


def test_unsplit_exports_without_media_are_deterministic(tmp_path: Path) -> None:
    sample = image_sample(splits=False)
    exports = [
        _export(sample, tmp_path / name, include_media=False, archive=archive)
        for name, archive in [
            ("zip", ArchiveFormat.ARCHIVE_FORMAT_ZIP),
            ("tar", ArchiveFormat.ARCHIVE_FORMAT_TAR),
        ]
    ]

    first, second = exports
    assert _files(first) == _files(second) == [CONFIG, TASKS]
    for name in (CONFIG, TASKS):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    tasks = _tasks(first)
    assert [t["data"]["image"] for t in tasks] == [i.media_key for i in sample.items]
    assert {t["data"]["split"] for t in tasks} == {"all"}


def test_media_kept_in_a_customers_bucket_is_named_by_its_s3_uri(tmp_path: Path) -> None:
    sample = image_sample(splits=False)
    for item in sample.items:
        item.media_uri, item.media_key = f"s3://photos/{item.item_id}.png", ""

    tasks = _tasks(_export(sample, tmp_path / "export", include_media=False))

    assert [t["data"]["image"] for t in tasks] == [i.media_uri for i in sample.items]
    assert not any("labelmesh_media_key" in t["data"] for t in tasks)


def test_an_image_that_cannot_be_read_fails_the_export(tmp_path: Path) -> None:
    sample = image_sample()
    del sample.media["img-1"]

    with pytest.raises(ExportFailed, match="img-1"):
        _export(sample, tmp_path / "export")


def test_other_items_and_label_kinds_are_left_out(tmp_path: Path) -> None:
    text = "Carol met Dan."
    sample = text_sample()
    sample.items = [
        DatasetItem(
            item_id="t-0",
            data_type=DataType.DATA_TYPE_TEXT,
            text=text,
            labels=[
                Label(text_span=TextSpan(label="PER", start=0, end=5, text="Carol")),
                Label(bounding_box=BoundingBox(label="PER", x=1, y=1, width=2, height=2)),
                Label(classification=Classification(label="positive")),
                Label(classification=Classification(label="neutral")),
            ],
        ),
        DatasetItem(item_id="v-0", data_type=DataType.DATA_TYPE_VIDEO, media_key="k"),
        DatasetItem(item_id="t-1", data_type=DataType.DATA_TYPE_TEXT, text="Nothing."),
    ]
    unpacked = _export(sample, tmp_path / "export")

    interface = _assert_importable(unpacked)
    assert [tag.tag for tag in interface.objects] == ["Text"]
    classes = interface.get_control("text_class")
    assert classes.labels == [*TEXT_CLASSES, "neutral"]
    assert classes.attr["choice"] == "multiple"
    tasks = _tasks(unpacked)
    assert [(t["id"], t["data"]["labelmesh_item_id"]) for t in tasks] == [(1, "t-0"), (2, "t-1")]
    assert [r["type"] for r in tasks[0]["annotations"][0]["result"]] == ["labels", "choices"]
    assert _results(tasks[0], "choices")[0]["value"] == {"choices": ["positive", "neutral"]}
    assert tasks[1]["annotations"] == [{"result": []}]


def test_config_of_an_unlabelled_and_of_an_empty_export(tmp_path: Path) -> None:
    sample = image_sample()
    for item in sample.items:
        del item.labels[:]
    unpacked = _export(sample, tmp_path / "unlabelled")

    interface = _assert_importable(unpacked)
    assert [tag.tag for tag in interface.controls] == ["RectangleLabels"]
    assert interface.get_control("box").labels == IMAGE_CLASSES

    sample.items = []
    empty = _export(sample, tmp_path / "empty")
    assert _tasks(empty) == []
    assert (empty / CONFIG).read_text(encoding="utf-8") == "<View />\n"
