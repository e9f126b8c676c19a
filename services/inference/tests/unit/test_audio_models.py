import io
import re
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from labelmesh.inference.models.audio import MAX_SECONDS, SAMPLE_RATE, decode_audio
from labelmesh.inference.models.base import Model, ModelInput, UndecodableInput
from labelmesh.inference.models.vad import SileroSpeechSegments, speech_regions
from labelmesh.inference.models.whisper import WhisperTranscriber

SPEECH = (Path(__file__).parent.parent / "data" / "speech.wav").read_bytes()
SPOKEN = "please label the red car in the top left corner"


def wav_bytes(samples: NDArray[Any], rate: int = SAMPLE_RATE, channels: int = 1) -> bytes:
    """16-bit PCM WAV of samples in [-1, 1], interleaved when there are several channels."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as file:
        file.setnchannels(channels)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(pcm.tobytes())
    return buffer.getvalue()


SILENCE = wav_bytes(np.zeros(3 * SAMPLE_RATE))
WHITE_NOISE = wav_bytes(np.random.default_rng(7).normal(0.0, 0.2, 3 * SAMPLE_RATE))


def loudness_span(samples: NDArray[np.float32]) -> tuple[float, float]:
    """First and last moment the waveform is audible, in seconds."""
    audible = np.nonzero(np.abs(samples) > 0.02)[0]
    return audible[0] / SAMPLE_RATE, audible[-1] / SAMPLE_RATE


@pytest.fixture(scope="module")
def whisper() -> WhisperTranscriber:
    model = WhisperTranscriber()
    model.load()
    return model


@pytest.fixture(scope="module")
def vad() -> SileroSpeechSegments:
    model = SileroSpeechSegments()
    model.load()
    return model


def run(model: Model, media: bytes) -> list[Any]:
    [labels] = model.predict([model.prepare(ModelInput(media=media, content_type="audio/wav"))])
    return labels


def test_decode_gives_mono_16k_samples_in_range() -> None:
    stereo = np.random.default_rng(1).uniform(-0.5, 0.5, (44_100, 2)).reshape(-1)
    samples = decode_audio(wav_bytes(stereo, rate=44_100, channels=2))
    assert samples.dtype == np.float32
    assert abs(samples.size - SAMPLE_RATE) <= 16
    assert -1.0 <= samples.min() and samples.max() <= 1.0
    assert decode_audio(SPEECH).size == 72_851


@pytest.mark.parametrize(
    ("media", "reason"),
    [
        (b"", "empty"),
        (b"Please label the red car.\nThis file only claims to be audio.\n", "text"),
        ("Grüße, ceci n'est pas un son\n".encode() * 30, "text"),
        (np.random.default_rng(3).bytes(4000), "not audio"),
        (wav_bytes(np.zeros(0)), "zero length"),
        (wav_bytes(np.zeros((MAX_SECONDS + 1) * 8000), rate=8000), f"{MAX_SECONDS} s"),
    ],
)
def test_unreadable_audio_is_refused_naming_media(media: bytes, reason: str) -> None:
    for model in (WhisperTranscriber(), SileroSpeechSegments()):
        with pytest.raises(UndecodableInput) as refused:
            model.prepare(ModelInput(media=media))
        assert refused.value.field == "media"
        assert reason in refused.value.reason


def test_whisper_transcribes_the_spoken_sentence(whisper: WhisperTranscriber) -> None:
    labels = run(whisper, SPEECH)
    assert labels
    heard = " ".join(label.transcription.text for label in labels)
    assert SPOKEN in re.sub(r"[^a-z ]", "", heard.lower())
    words = [word for label in labels for word in label.transcription.words]
    assert [re.sub(r"[^a-z]", "", word.text.lower()) for word in words] == SPOKEN.split()
    starts = [word.start_seconds for word in words]
    assert starts == sorted(starts) and starts[0] < starts[-1]
    assert all(word.start_seconds <= word.end_seconds <= 4.6 for word in words)
    assert all(0.0 < word.probability <= 1.0 for word in words)
    assert all(0.3 < label.confidence <= 1.0 for label in labels)


def test_whisper_hears_nothing_in_silence(whisper: WhisperTranscriber) -> None:
    assert run(whisper, SILENCE) == []


def test_vad_covers_the_speech_and_nothing_else(vad: SileroSpeechSegments) -> None:
    [label] = run(vad, SPEECH)
    segment = label.time_segment
    first, last = loudness_span(decode_audio(SPEECH))
    assert segment.label == "speech"
    assert first - 0.1 <= segment.start_seconds <= first + 0.1
    assert last - 0.1 <= segment.end_seconds <= last + 0.1
    assert label.confidence > 0.8


@pytest.mark.parametrize("media", [SILENCE, WHITE_NOISE], ids=["silence", "white noise"])
def test_vad_finds_no_speech_in_silence_or_noise(vad: SileroSpeechSegments, media: bytes) -> None:
    assert run(vad, media) == []


def test_speech_regions_bridge_short_gaps_and_drop_blips() -> None:
    frame = 0.1
    probabilities = (
        [0.1] * 5  # silence
        + [0.9] * 10  # speech 0.5 to 1.5 s
        + [0.4] * 3  # a dip that stays above the closing threshold
        + [0.9] * 5
        + [0.1] * 2  # a 0.2 s pause, bridged
        + [0.8] * 5  # until 3.0 s
        + [0.1] * 10
        + [0.95] * 2  # a 0.2 s blip, dropped
        + [0.1] * 5
    )
    [region] = speech_regions(probabilities, frame_seconds=frame)
    assert region.start_seconds == pytest.approx(0.5)
    assert region.end_seconds == pytest.approx(3.0)
    assert region.mean_probability == pytest.approx(np.mean(probabilities[5:30]))
