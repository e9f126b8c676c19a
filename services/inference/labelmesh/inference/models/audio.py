"""Audio bytes of any format FFmpeg reads (WAV, MP3, FLAC, Ogg, M4A, the sound
of a video ...) as the mono 16 kHz float samples the speech models expect.

Media longer than MAX_SECONDS is refused: transcribing it would hold a worker
for minutes, and the samples alone take 3.8 MB per minute. Decoding stops as
soon as the limit is passed, so a small file that expands to hours costs
little.
"""

from __future__ import annotations

import codecs
import io

import av
import numpy as np
from numpy.typing import NDArray

from labelmesh.inference.models.base import UndecodableInput

SAMPLE_RATE = 16_000
MAX_SECONDS = 600
_MAX_SAMPLES = MAX_SECONDS * SAMPLE_RATE
_MICROSECONDS = 1_000_000
_TEXT_SNIFF_BYTES = 512


def decode_audio(data: bytes) -> NDArray[np.float32]:
    """Mono 16 kHz samples in [-1, 1]; UndecodableInput("media", why) when impossible."""
    if not data:
        raise UndecodableInput("media", "is empty")
    try:
        samples = _decode(data)
    except av.FFmpegError as error:
        raise UndecodableInput("media", _unreadable_reason(data, error)) from error
    if samples.size == 0:
        raise UndecodableInput("media", "has no audio samples (zero length)")
    return samples


def _decode(data: bytes) -> NDArray[np.float32]:
    with av.open(io.BytesIO(data), mode="r") as container:
        if not container.streams.audio:
            found = ", ".join(stream.type for stream in container.streams) or "no streams"
            raise UndecodableInput(
                "media", f"has no audio stream ({container.format.name} with {found})"
            )
        if container.duration is not None and container.duration > MAX_SECONDS * _MICROSECONDS:
            raise _too_long(container.duration / _MICROSECONDS)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        chunks: list[NDArray[np.float32]] = []
        total = 0
        for frame in container.decode(container.streams.audio[0]):
            for resampled in resampler.resample(frame):
                chunks.append(_mono_samples(resampled))
                total += chunks[-1].size
            if total > _MAX_SAMPLES:
                raise _too_long(None)
        chunks.extend(_mono_samples(resampled) for resampled in resampler.resample(None))
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if samples.size > _MAX_SAMPLES:
        raise _too_long(samples.size / SAMPLE_RATE)
    finite = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip(finite, -1.0, 1.0).astype(np.float32, copy=False)


def _mono_samples(frame: av.AudioFrame) -> NDArray[np.float32]:
    return np.asarray(frame.to_ndarray(), dtype=np.float32).reshape(-1)


def _too_long(seconds: float | None) -> UndecodableInput:
    known = f" ({seconds:.0f} s)" if seconds is not None else ""
    return UndecodableInput("media", f"lasts longer than the limit of {MAX_SECONDS} s{known}")


def _unreadable_reason(data: bytes, error: av.FFmpegError) -> str:
    if _looks_like_text(data[:_TEXT_SNIFF_BYTES]):
        return "is text, not audio"
    return f"is not audio in a format FFmpeg reads ({error.strerror})"


def _looks_like_text(head: bytes) -> bool:
    try:
        # Not final: a multi-byte character cut off by the sniff length is no error.
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return all(char.isprintable() or char in "\t\n\r" for char in text)
