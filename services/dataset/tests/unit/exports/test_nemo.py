"""NeMo manifests, read back as the JSON lines NeMo parses."""

from __future__ import annotations

import json
import wave
from pathlib import Path
from typing import Any

import pytest

from labelmesh.testing.exports import Sample, audio_sample, export_sample
from labelmesh.v1.dataset_service_pb2 import ArchiveFormat, DatasetItem, ExportFormat
from labelmesh.v1.events_pb2 import DatasetVersion, DataType
from labelmesh.v1.geometry_pb2 import Label, TextSpan, TimeSegment, Transcription, Word


def _files(unpacked: Path) -> list[str]:
    return [p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file()]


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_one_line_per_transcribed_recording_per_split(tmp_path: Path) -> None:
    sample = audio_sample()
    unpacked = export_sample(sample, ExportFormat.EXPORT_FORMAT_NEMO_MANIFEST, tmp_path / "export")
    bare = export_sample(
        sample, ExportFormat.EXPORT_FORMAT_NEMO_MANIFEST, tmp_path / "bare", include_media=False
    )

    manifests = ["train_manifest.json", "val_manifest.json"]
    recordings = [f"audio/{item.item_id}.wav" for item in sample.items]
    assert sorted(_files(unpacked)) == sorted([*manifests, *recordings])
    assert sorted(_files(bare)) == manifests
    for split in ("train", "val"):
        (item,) = [item for item in sample.items if item.split == split]
        transcription = item.labels[0].transcription
        (entry,) = _read(unpacked / f"{split}_manifest.json")
        assert set(entry) == {"audio_filepath", "duration", "text", "item_id", "media_key", "words"}
        assert entry["audio_filepath"] == f"audio/{item.item_id}.wav"
        # The path resolves against the manifest, to the recording as stored.
        recording = unpacked / entry["audio_filepath"]
        assert recording.read_bytes() == sample.media[item.item_id]
        with wave.open(str(recording)) as audio:
            assert audio.getnframes() / audio.getframerate() >= entry["duration"] - 1e-6
        assert entry["duration"] == pytest.approx(transcription.end_seconds, abs=1e-9)
        assert entry["text"] == transcription.text
        assert entry["item_id"] == item.item_id
        assert entry["media_key"] == item.media_key
        assert entry["words"] == [
            {"word": w.text, "start": w.start_seconds, "end": w.end_seconds}
            for w in transcription.words
        ]
    (first,) = _read(unpacked / "train_manifest.json")
    assert first["duration"] == 1.5
    assert [w["word"] for w in first["words"]] == ["hello", "world"]


def _audio(item_id: str, *labels: Label) -> DatasetItem:
    return DatasetItem(
        item_id=item_id,
        data_type=DataType.DATA_TYPE_AUDIO,
        media_key=f"projects/p/items/{item_id}",
        content_type="audio/wav",
        filename="Recording.WAV",
        labels=labels,
    )


def _words(*timed: tuple[str, float, float]) -> list[Word]:
    return [Word(text=t, start_seconds=s, end_seconds=e) for t, s, e in timed]


def test_offsets_durations_from_words_and_skips_in_a_tar(tmp_path: Path) -> None:
    items = [
        _audio(
            "a-0",
            Label(transcription=Transcription(text="one", end_seconds=1.25)),
            Label(
                transcription=Transcription(
                    text="two three",
                    start_seconds=2.5,
                    end_seconds=4.0,
                    words=_words(("two", 2.5, 3.0), ("three", 3.1, 3.9)),
                )
            ),
        ),
        # No end time: the last word's end gives the duration.
        _audio(
            "a-1",
            Label(
                transcription=Transcription(
                    text="four five",
                    start_seconds=0.5,
                    words=_words(("four", 0.5, 1), ("five", 1, 2.5)),
                )
            ),
        ),
        _audio("a-2", Label(time_segment=TimeSegment(label="speech", end_seconds=1))),
        _audio("a-3", Label(transcription=Transcription(text="untimed"))),
        DatasetItem(
            item_id="t-0",
            data_type=DataType.DATA_TYPE_TEXT,
            text="six",
            labels=[Label(text_span=TextSpan(label="speech", start=0, end=3))],
        ),
    ]
    version = DatasetVersion(version_id="v" * 64, classes=["speech"])
    unpacked = export_sample(
        Sample(items, {}, version),
        ExportFormat.EXPORT_FORMAT_NEMO_MANIFEST,
        tmp_path / "export",
        archive=ArchiveFormat.ARCHIVE_FORMAT_TAR,
    )

    assert [p.name for p in unpacked.iterdir()] == ["all_manifest.json"]
    entries = _read(unpacked / "all_manifest.json")
    assert [(e["item_id"], e["text"]) for e in entries] == [
        ("a-0", "one"),
        ("a-0", "two three"),
        ("a-1", "four five"),
    ]
    assert [e["duration"] for e in entries] == pytest.approx([1.25, 1.5, 2.0], abs=1e-9)
    assert [e.get("offset") for e in entries] == [None, 2.5, 0.5]
    assert [e["audio_filepath"] for e in entries] == [
        "audio/a-0.wav",
        "audio/a-0.wav",
        "audio/a-1.wav",
    ]
    assert entries[1]["words"] == [
        {"word": "two", "start": 2.5, "end": 3.0},
        {"word": "three", "start": 3.1, "end": 3.9},
    ]
    assert entries[0]["words"] == []
