from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from labelmesh.sdk.migrate import label_studio
from labelmesh.sdk.migrate.masks import runs_of

with warnings.catch_warnings():
    # label-studio-sdk 2.0.5 still declares pydantic 1 validators, which
    # pydantic 2 warns about when the SDK is imported.
    warnings.simplefilter("ignore", DeprecationWarning)
    from label_studio_sdk.converter import brush


def write(tmp_path: Path, tasks: list[dict[str, Any]]) -> Path:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    return path


def image_result(kind: str, value: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "value": value,
        "from_name": "f",
        "to_name": "image",
        "original_width": 200,
        "original_height": 100,
        **extra,
    }


def test_an_image_tasks_annotations_keep_their_annotator_time_and_geometry(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "cat.png").write_bytes(b"png")
    bits = np.zeros((100, 200), dtype=np.uint8)
    bits[10:20, 30:60] = 1
    rgba = np.repeat(bits[:, :, None] * 255, 4, axis=2)
    results = [
        image_result(
            "rectanglelabels",
            {
                "x": 10,
                "y": 20,
                "width": 50,
                "height": 25,
                "rotation": 0,
                "rectanglelabels": ["cat"],
            },
        ),
        image_result(
            "polygonlabels", {"points": [[0, 0], [50, 0], [50, 50]], "polygonlabels": ["cat"]}
        ),
        image_result(
            "brushlabels",
            {"format": "rle", "rle": brush.encode_rle(rgba.flatten()), "brushlabels": ["cat"]},
        ),
        image_result("keypointlabels", {"x": 50, "y": 50, "width": 1, "keypointlabels": ["nose"]}),
        image_result(
            "keypointlabels",
            {"x": 25, "y": 10, "width": 1, "hidden": True, "keypointlabels": ["left_eye"]},
        ),
        {"type": "choices", "value": {"choices": ["indoor", "night"]}},
        {"type": "rating", "value": {"rating": 4}},
    ]
    tasks = [
        {
            "id": 7,
            "data": {"image": "/data/upload/3/cat.png", "camera": "c1"},
            "annotations": [
                {
                    "id": 70,
                    "completed_by": {"id": 2, "email": "ann@example.com"},
                    "created_at": "2024-03-01T10:00:00.5Z",
                    "result": results,
                },
                {"id": 71, "was_cancelled": True, "result": results},
            ],
            "predictions": [
                {
                    "id": 80,
                    "model_version": "yolo-8",
                    "score": 0.75,
                    "result": [
                        image_result(
                            "rectanglelabels",
                            {"x": 0, "y": 0, "width": 10, "height": 10, "rectanglelabels": ["dog"]},
                            score=0.6,
                        ),
                    ],
                }
            ],
        }
    ]

    migration = label_studio.read(
        write(tmp_path, tasks), tmp_path / "media", {"face": ["nose", "left_eye", "right_eye"]}
    )

    [record] = migration.records
    assert record.path == str(tmp_path / "media" / "cat.png")
    assert (record.source, record.source_uri) == ("label-studio", "/data/upload/3/cat.png")
    assert record.metadata == {"camera": "c1", "label_studio_task_id": "7"}
    [annotation] = record.annotations
    assert annotation["annotator"] == "ann@example.com"
    assert annotation["created_at"] == "2024-03-01T10:00:00.5Z"
    assert annotation["origin_id"] == "70"
    labels = annotation["labels"]
    assert labels[0] == {
        "bounding_box": {"label": "cat", "x": 20.0, "y": 20.0, "width": 100.0, "height": 25.0}
    }
    assert labels[1]["polygon"]["points"] == [
        {"x": 0.0, "y": 0.0},
        {"x": 100.0, "y": 0.0},
        {"x": 100.0, "y": 50.0},
    ]
    assert labels[2]["mask"] == {
        "label": "cat",
        "width": 200,
        "height": 100,
        "counts": runs_of(bits.flatten()),
    }
    assert labels[3:5] == [
        {"classification": {"label": "indoor"}},
        {"classification": {"label": "night"}},
    ]
    assert labels[5] == {
        "keypoints": {
            "label": "face",
            "points": [
                {"name": "nose", "position": {"x": 100.0, "y": 50.0}, "visibility": 1.0},
                {"name": "left_eye", "position": {"x": 50.0, "y": 10.0}, "visibility": 0.0},
            ],
        }
    }
    assert migration.unsupported == {"rating": 1}
    [prediction] = record.predictions
    assert (prediction["score"], prediction["model_version"]) == (0.75, "yolo-8")
    assert prediction["labels"][0]["confidence"] == 0.6


def test_a_rotated_rectangle_becomes_the_box_around_it(tmp_path: Path) -> None:
    value = {"x": 50, "y": 0, "width": 10, "height": 20, "rotation": 90, "rectanglelabels": ["a"]}
    label = label_studio.rectangle(value, 2.0, 1.0)
    # 20 px wide, 20 px high, turned clockwise about (100, 0): it hangs to the left.
    assert label["bounding_box"] == {
        "label": "a",
        "x": 80.0,
        "y": 0.0,
        "width": 20.0,
        "height": 20.0,
    }


def test_text_spans_audio_segments_and_transcriptions(tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_bytes(b"wav")
    tasks = [
        {
            "id": 1,
            "data": {"text": "Ada met Alan"},
            "annotations": [
                {
                    "result": [
                        {
                            "type": "labels",
                            "value": {"start": 0, "end": 3, "text": "Ada", "labels": ["PER"]},
                        },
                    ]
                }
            ],
        },
        {
            "id": 2,
            "data": {"audio": "a.wav"},
            "annotations": [
                {
                    "result": [
                        {
                            "type": "labels",
                            "value": {"start": 0.5, "end": 1.5, "labels": ["speech"]},
                        },
                        {
                            "type": "textarea",
                            "value": {"start": 0.5, "end": 1.5, "text": ["hello", "there"]},
                        },
                    ]
                }
            ],
        },
    ]

    text, audio = label_studio.read(write(tmp_path, tasks)).records

    assert text.text == "Ada met Alan"
    assert text.annotations[0]["labels"] == [
        {"text_span": {"label": "PER", "start": 0, "end": 3, "text": "Ada"}}
    ]
    assert audio.annotations[0]["labels"] == [
        {"time_segment": {"label": "speech", "start_seconds": 0.5, "end_seconds": 1.5}},
        {"transcription": {"text": "hello there", "start_seconds": 0.5, "end_seconds": 1.5}},
    ]


def test_media_is_found_fetched_or_the_task_is_left_out_with_the_reason(tmp_path: Path) -> None:
    tasks = [
        {"id": 1, "data": {"image": "https://example.com/x.jpg"}},
        {"id": 2, "data": {"image": "s3://bucket/x.jpg"}},
        {"id": 3, "data": {"image": "missing.jpg"}},
        {"id": 4, "data": {"rating": 3}},
    ]

    migration = label_studio.read(write(tmp_path, tasks))

    assert [r.url for r in migration.records] == ["https://example.com/x.jpg"]
    assert [reason.split(":")[0] for reason in migration.skipped] == ["task 2", "task 3", "task 4"]
    assert "bucket" in migration.skipped[0]
