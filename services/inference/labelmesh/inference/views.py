"""The messages the inference APIs return, built from records in one place
for gRPC and REST alike (REST sends their proto-JSON)."""

from __future__ import annotations

from labelmesh.inference.assist import ItemSuggestions, TextPredictions
from labelmesh.inference.enums import TASKS, with_both_forms
from labelmesh.inference.records import AutoAnnotationSetup, MeasuredQuality
from labelmesh.inference.registry import ModelDescription, ref
from labelmesh.v1 import inference_service_pb2 as pb
from labelmesh.v1.events_pb2 import ModelRef, PredictionCreated


def model_quality(quality: MeasuredQuality) -> pb.ModelQuality:
    return pb.ModelQuality(
        accepted=quality.accepted,
        rejected=quality.rejected,
        precision=quality.precision,
        buckets=[
            pb.ConfidenceBucket(low=b.low, high=b.high, accepted=b.accepted, rejected=b.rejected)
            for b in quality.buckets
        ],
    )


def model_info(model: ModelDescription) -> pb.ModelInfo:
    spec = model.spec
    info = pb.ModelInfo(
        model=ref(spec),
        task=spec.task.value,
        data_type=spec.data_type,  # type: ignore[arg-type]
        labels=spec.labels,
        description=spec.description,
        quality=model_quality(model.quality),
        model_task=TASKS[spec.task],
        runtime=pb.ModelRuntime.MODEL_RUNTIME_IN_PROCESS
        if model.remote is None
        else pb.ModelRuntime.MODEL_RUNTIME_REMOTE,
    )
    if model.remote is not None:
        # Registered before the enums existed, a model's remote may lack them.
        info.remote.CopyFrom(with_both_forms(pb.RegisterModelRequest(remote=model.remote)).remote)
    return info


def list_models(models: list[ModelDescription]) -> pb.ListModelsResponse:
    return pb.ListModelsResponse(models=[model_info(m) for m in models])


def text_predictions(predicted: TextPredictions) -> pb.PredictTextResponse:
    return pb.PredictTextResponse(
        model=predicted.model,
        predictions=[pb.TextPrediction(labels=labels) for labels in predicted.ranked],
    )


def assisted(model: ModelRef, items: list[ItemSuggestions]) -> pb.AssistResponse:
    return pb.AssistResponse(
        model=model,
        items=[
            pb.ItemSuggestions(
                item_id=i.item_id, prediction_id=i.prediction_id, labels=i.labels, error=i.error
            )
            for i in items
        ],
    )


def prediction(item_id: str, predicted: PredictionCreated) -> pb.GetPredictionResponse:
    return pb.GetPredictionResponse(item_id=item_id, prediction=predicted)


def auto_annotation(setup: AutoAnnotationSetup) -> pb.GetAutoAnnotationResponse:
    return pb.GetAutoAnnotationResponse(models=setup.models, rules=setup.rules)


def configured(setup: AutoAnnotationSetup) -> pb.ConfigureAutoAnnotationResponse:
    return pb.ConfigureAutoAnnotationResponse(models=setup.models, rules=setup.rules)
