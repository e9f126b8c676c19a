"""NVIDIA NeMo speech manifests: JSON lines, the training input of NeMo's
ASR models.

Layout: `<split>_manifest.json` for every split of the version, empty when no
item is in it. One line per transcription of an audio item:

    {"audio_filepath": "audio/aud-0.wav", "duration": 1.5, "text": "hello world",
     "item_id": "aud-0", "media_key": "projects/...",
     "words": [{"word": "hello", "start": 0.0, "end": 0.75}, ...]}

`duration` is the transcription's end minus its start, in seconds, or the
last word's end minus its start when the transcription has no end; `offset`
(its start) is there when the transcription does not start at 0, as NeMo
reads a segment of a longer recording. Word times are seconds from the start
of the recording, as stored.

`audio_filepath` is `audio/` and the recording's archive name (its item id
and extension), relative to the manifest, as NeMo resolves it. With
`include_media` the archive holds each recording there, once however many
transcriptions it has; without, the recording is in the object store under
`media_key`, to be copied there before training.

Items other than audio are skipped, as are audio items without a
transcription and transcriptions whose duration is unknown (no end and no
timed word). Labels other than transcriptions are left out.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from labelmesh.dataset.exports.base import ExportContext, Media, media_name, split_of
from labelmesh.v1.dataset_service_pb2 import DatasetItem
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import Transcription

AUDIO_FOLDER = "audio"


class Writer:
    def __init__(self, context: ExportContext) -> None:
        self._context = context
        self._files: dict[str, TextIO] = {}
        for split in context.splits:
            self._file(split)

    def add(self, item: DatasetItem, media: Media | None) -> None:
        if item.data_type != DataType.DATA_TYPE_AUDIO:
            return
        written = 0
        for label in item.labels:
            if label.WhichOneof("kind") != "transcription":
                continue
            line = manifest_line(item, label.transcription)
            if line is not None:
                self._file(split_of(item)).write(line)
                written += 1
        if written and media is not None and self._context.include_media:
            self._context.archive.write(audio_path(item), media.data)

    def finish(self) -> None:
        splits = self._context.splits
        for split in [*splits, *sorted(set(self._files) - set(splits))]:
            self._files[split].close()
            name = _name(split)
            self._context.archive.write_file(name, self._context.workdir / name)

    def _file(self, split: str) -> TextIO:
        file = self._files.get(split)
        if file is None:
            path = self._context.workdir / _name(split)
            file = self._files[split] = path.open("w", encoding="utf-8", newline="\n")
        return file


def manifest_line(item: DatasetItem, transcription: Transcription) -> str | None:
    """The transcription's manifest line, or None when its duration is unknown."""
    start = transcription.start_seconds
    end = transcription.end_seconds
    if end <= start and transcription.words:
        end = transcription.words[-1].end_seconds
    if end <= start:
        return None
    entry: dict[str, Any] = {
        "audio_filepath": audio_path(item),
        "duration": end - start,
        "text": transcription.text,
    }
    if start > 0:
        entry["offset"] = start
    entry["item_id"] = item.item_id
    entry["media_key"] = item.media_key
    entry["words"] = [
        {"word": word.text, "start": word.start_seconds, "end": word.end_seconds}
        for word in transcription.words
    ]
    return json.dumps(entry, ensure_ascii=False) + "\n"


def audio_path(item: DatasetItem) -> str:
    return f"{AUDIO_FOLDER}/{media_name(item)}"


def _name(split: str) -> str:
    return f"{split}_manifest.json"
