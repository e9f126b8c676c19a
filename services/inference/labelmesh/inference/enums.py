"""The closed sets of the inference API, between their proto enums and the
Python StrEnums, so that either form is accepted on input and both are
filled on output."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from labelmesh.core.enums import proto_values
from labelmesh.inference.models.base import Task
from labelmesh.inference.records import Postprocess, Preprocess
from labelmesh.v1 import inference_service_pb2 as pb

E = TypeVar("E", bound=StrEnum)

TASKS: dict[Task, pb.ModelTask] = proto_values(Task, pb.ModelTask)
PREPROCESSES: dict[Preprocess, pb.RemotePreprocess] = proto_values(Preprocess, pb.RemotePreprocess)
POSTPROCESSES: dict[Postprocess, pb.RemotePostprocess] = proto_values(
    Postprocess, pb.RemotePostprocess
)


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
