"""The built-in models, and which of them pre-label a project that names none."""

from __future__ import annotations

from labelmesh.inference.models.base import Model
from labelmesh.inference.models.faces import FaceDetector
from labelmesh.inference.models.imagenet import ImageNetClassifier
from labelmesh.inference.models.ner import SpacyEntities
from labelmesh.inference.models.person_segmentation import PersonSegmenter
from labelmesh.inference.models.pose import PoseEstimator
from labelmesh.inference.models.sentiment import VaderSentiment
from labelmesh.inference.models.vad import SileroSpeechSegments
from labelmesh.inference.models.whisper import WhisperTranscriber
from labelmesh.inference.models.zero_shot import ZeroShotClassifier
from labelmesh.v1.events_pb2 import DataType

ZERO_SHOT = "all-minilm-l6-v2-zero-shot"

# A project with no models of its own gets these. Images have none: which of
# the image models fits depends on what the project labels.
DEFAULT_MODELS: dict[int, tuple[str, ...]] = {
    DataType.DATA_TYPE_TEXT: (ZERO_SHOT,),
    DataType.DATA_TYPE_AUDIO: ("whisper-tiny-en",),
}


def built_in_models() -> list[Model]:
    """Fresh, unloaded instances; weights load on first use."""
    return [
        ZeroShotClassifier(),
        VaderSentiment(),
        SpacyEntities(),
        FaceDetector(),
        PersonSegmenter(),
        PoseEstimator(),
        ImageNetClassifier(),
        WhisperTranscriber(),
        SileroSpeechSegments(),
    ]
