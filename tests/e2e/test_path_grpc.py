"""The same journey over gRPC, plus health checking and reflection."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from labelmesh.devstack.keys import StackKeys
from labelmesh.devstack.services import ServiceAddress
from labelmesh.testing.services import wait_for
from labelmesh.v1 import (
    annotation_service_pb2,
    annotation_service_pb2_grpc,
    audit_service_pb2,
    audit_service_pb2_grpc,
    inference_service_pb2,
    inference_service_pb2_grpc,
    ingest_service_pb2,
    ingest_service_pb2_grpc,
    review_service_pb2,
    review_service_pb2_grpc,
)
from labelmesh.v1.events_pb2 import DataType, ReviewDecision
from labelmesh.v1.geometry_pb2 import Classification, Label

from .signing import signed_channel

pytestmark = pytest.mark.e2e


@pytest.fixture
def channels(
    stack: dict[str, ServiceAddress], keys: StackKeys
) -> Iterator[dict[str, grpc.Channel]]:
    """Calls carry the key of the person their request names, else the admin's."""
    opened = {name: signed_channel(keys, a.grpc) for name, a in stack.items()}
    yield opened
    for channel in opened.values():
        channel.close()


def test_item_travels_the_whole_path_over_grpc(channels: dict[str, grpc.Channel]) -> None:
    annotation = annotation_service_pb2_grpc.AnnotationServiceStub(channels["annotation"])
    ingest = ingest_service_pb2_grpc.IngestServiceStub(channels["ingest"])
    inference = inference_service_pb2_grpc.InferenceServiceStub(channels["inference"])
    review = review_service_pb2_grpc.ReviewServiceStub(channels["review"])
    audit = audit_service_pb2_grpc.AuditServiceStub(channels["audit"])

    with pytest.raises(grpc.RpcError) as bad_project:
        annotation.CreateProject(annotation_service_pb2.CreateProjectRequest(name="x"))
    assert bad_project.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "data_type" in (bad_project.value.details() or "")

    project = annotation.CreateProject(
        annotation_service_pb2.CreateProjectRequest(
            name="support tickets",
            data_type=DataType.DATA_TYPE_TEXT,
            classes=["billing", "bug report", "feature request"],
            auto_accept_threshold=1.0,  # nothing is confident enough: every item gets a task
        )
    ).project

    def upload() -> ingest_service_pb2.UploadItemsResponse | None:
        request = ingest_service_pb2.UploadItemsRequest(
            project_id=project.project_id,
            items=[ingest_service_pb2.ItemUpload(text="I was charged twice for my subscription")],
        )
        try:
            return ingest.UploadItems(request)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND
            return None

    item_id = wait_for(upload, "ingest to know the project").results[0].item_id

    streamed = ingest.UploadItemStream(
        iter(
            [
                ingest_service_pb2.UploadItemStreamRequest(
                    project_id=project.project_id, item=ingest_service_pb2.ItemUpload(text=text)
                )
                for text in ("I was charged twice for my subscription", "", "Add a dark mode")
            ]
        )
    ).results
    assert [r.index for r in streamed] == [0, 1, 2]
    assert (streamed[0].item_id, streamed[0].duplicate) == (item_id, True)
    assert streamed[1].error.field == "items[1].text"
    assert streamed[2].item_id and not streamed[2].error.field

    models = inference.ListModels(inference_service_pb2.ListModelsRequest()).models
    tasks = {m.model.id: (m.task, m.data_type) for m in models}
    assert tasks["all-minilm-l6-v2-zero-shot"] == ("classification", DataType.DATA_TYPE_TEXT)
    assert tasks["mediapipe-face-detection"] == ("detection", DataType.DATA_TYPE_IMAGE)
    assert tasks["whisper-tiny-en"] == ("transcription", DataType.DATA_TYPE_AUDIO)
    assert {task for task, _ in tasks.values()} == {
        "classification",
        "detection",
        "segmentation",
        "keypoints",
        "ner",
        "sentiment",
        "transcription",
    }

    def assist_once() -> inference_service_pb2.PredictTextResponse | None:
        request = inference_service_pb2.PredictTextRequest(
            project_id=project.project_id, texts=["The app crashes when I press save"]
        )
        try:
            return inference.PredictText(request)
        except grpc.RpcError as error:  # inference has not heard of the project yet
            assert error.code() == grpc.StatusCode.NOT_FOUND
            return None

    assist = wait_for(assist_once, "inference to know the project")
    assert assist.predictions[0].labels[0].classification.label == "bug report"

    def next_task() -> annotation_service_pb2.Task | None:
        response = annotation.NextTask(
            annotation_service_pb2.NextTaskRequest(project_id=project.project_id, annotator="bo")
        )
        return response.task if response.HasField("task") else None

    task = wait_for(next_task, "the task")
    if task.item_id != item_id:  # the streamed item may be first in the queue
        annotation.SubmitAnnotation(
            annotation_service_pb2.SubmitAnnotationRequest(
                task_id=task.task_id,
                annotator="bo",
                labels=[Label(classification=Classification(label="feature request"))],
            )
        )
        task = wait_for(next_task, "the task")
    assert task.item_id == item_id
    assert task.suggestion[0].classification.label == "billing"

    with pytest.raises(grpc.RpcError) as invalid:
        annotation.SubmitAnnotation(
            annotation_service_pb2.SubmitAnnotationRequest(
                task_id=task.task_id,
                annotator="bo",
                labels=[Label(classification=Classification(label="refund"))],
            )
        )
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (invalid.value.details() or "").startswith("labels[0].classification.label:")

    annotation.SubmitAnnotation(
        annotation_service_pb2.SubmitAnnotationRequest(
            task_id=task.task_id,
            annotator="bo",
            labels=[Label(classification=Classification(label="billing"), confidence=1.0)],
        )
    )

    def reviewed() -> review_service_pb2.GetItemReviewsResponse | None:
        response = review.GetItemReviews(review_service_pb2.GetItemReviewsRequest(item_id=item_id))
        return response if response.completed else None

    decision = wait_for(reviewed, "the review").reviews[0]
    assert decision.decision == ReviewDecision.REVIEW_DECISION_APPROVED
    assert decision.agreement == 1.0

    def trail() -> audit_service_pb2.GetItemTrailResponse | None:
        try:
            response = audit.GetItemTrail(audit_service_pb2.GetItemTrailRequest(item_id=item_id))
        except grpc.RpcError:
            return None
        return response if len(response.entries) >= 7 else None

    entries = wait_for(trail, "the audit trail").entries
    assert [e.sequence for e in entries] == list(range(7))
    assert entries[0].event_type == "labelmesh.v1.ItemIngested"
    assert entries[-2].event_type == "labelmesh.v1.QualityScored"
    assert entries[-1].event_type == "labelmesh.v1.ItemCompleted"
    assert all(
        later.previous_hash == earlier.hash for earlier, later in itertools.pairwise(entries)
    )
    verified = audit.VerifyItemTrail(audit_service_pb2.VerifyItemTrailRequest(item_id=item_id))
    assert (verified.intact, verified.entries_checked) == (True, 7)

    with pytest.raises(grpc.RpcError) as missing:
        audit.GetItemTrail(audit_service_pb2.GetItemTrailRequest(item_id="no-such-item"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


SERVICES = {
    "ingest": "labelmesh.v1.IngestService",
    "inference": "labelmesh.v1.InferenceService",
    "annotation": "labelmesh.v1.AnnotationService",
    "review": "labelmesh.v1.ReviewService",
    "audit": "labelmesh.v1.AuditService",
    "dataset": "labelmesh.v1.DatasetService",
}


@pytest.mark.parametrize(("name", "full_name"), SERVICES.items())
def test_every_service_answers_health_and_reflection(
    channels: dict[str, grpc.Channel], name: str, full_name: str
) -> None:
    health = health_pb2_grpc.HealthStub(channels[name])
    status = health.Check(health_pb2.HealthCheckRequest(service=full_name)).status
    assert status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(channels[name])
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    response = next(iter(reflection.ServerReflectionInfo(iter([request]))))
    listed = {s.name for s in response.list_services_response.service}
    assert {full_name, "grpc.health.v1.Health"} <= listed
