"""The closed sets of the inference API, between their proto enums and the
Python StrEnums, so that either form is accepted on input and both are
filled on output."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from labelmesh.inference.models.base import Task
from labelmesh.inference.records import Postprocess, Preprocess
from labelmesh.v1 import inference_service_pb2 as pb

E = TypeVar("E", bound=StrEnum)

TASKS: dict[Task, pb.ModelTask] = {
    Task.CLASSIFICATION: pb.MODEL_TASK_CLASSIFICATION,
    Task.DETECTION: pb.MODEL_TASK_DETECTION,
    Task.SEGMENTATION: pb.MODEL_TASK_SEGMENTATION,
    Task.KEYPOINTS: pb.MODEL_TASK_KEYPOINTS,
    Task.NER: pb.MODEL_TASK_NER,
    Task.SENTIMENT: pb.MODEL_TASK_SENTIMENT,
    Task.TRANSCRIPTION: pb.MODEL_TASK_TRANSCRIPTION,
}
PREPROCESSES: dict[Preprocess, pb.RemotePreprocess] = {
    Preprocess.TEXT: pb.REMOTE_PREPROCESS_TEXT,
    Preprocess.TEXT_EMBEDDING: pb.REMOTE_PREPROCESS_TEXT_EMBEDDING,
    Preprocess.IMAGE_RGB: pb.REMOTE_PREPROCESS_IMAGE_RGB,
    Preprocess.AUDIO_PCM: pb.REMOTE_PREPROCESS_AUDIO_PCM,
}
POSTPROCESSES: dict[Postprocess, pb.RemotePostprocess] = {
    Postprocess.CLASS_PROBABILITIES: pb.REMOTE_POSTPROCESS_CLASS_PROBABILITIES,
    Postprocess.CLASS_LABEL: pb.REMOTE_POSTPROCESS_CLASS_LABEL,
    Postprocess.BOXES: pb.REMOTE_POSTPROCESS_BOXES,
}


def _named(value: str, enum_type: type[E]) -> E | None:
    try:
        return enum_type(value)
    except ValueError:
        return None


def _string_of(number: int, table: dict[E, object]) -> str:
    return next((str(member) for member, n in table.items() if n == number), "")


def with_both_forms(registration: pb.RegisterModelRequest) -> pb.RegisterModelRequest:
    """A copy with each closed set in both its string and its enum field.

    The string wins when both are set; an unknown string is left for
    validation to refuse with its field name.
    """
    filled = pb.RegisterModelRequest()
    filled.CopyFrom(registration)
    remote = filled.remote
    if filled.task:
        task = _named(filled.task, Task)
        filled.model_task = TASKS[task] if task else pb.MODEL_TASK_UNSPECIFIED
    else:
        filled.task = _string_of(filled.model_task, TASKS)  # type: ignore[arg-type]
    if remote.preprocess:
        pre = _named(remote.preprocess, Preprocess)
        remote.preprocessing = PREPROCESSES[pre] if pre else pb.REMOTE_PREPROCESS_UNSPECIFIED
    else:
        remote.preprocess = _string_of(remote.preprocessing, PREPROCESSES)  # type: ignore[arg-type]
    if remote.postprocess:
        post = _named(remote.postprocess, Postprocess)
        remote.postprocessing = POSTPROCESSES[post] if post else pb.REMOTE_POSTPROCESS_UNSPECIFIED
    else:
        remote.postprocess = _string_of(remote.postprocessing, POSTPROCESSES)  # type: ignore[arg-type]
    return filled
