"""The gRPC surface of the review policy and the queue, over a real channel."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from labelmesh.annotation.app import AnnotationApp
from labelmesh.testing.access import SessionAccess, session_interceptors
from labelmesh.testing.services import grpc_stub
from labelmesh.testing.twins.annotation import LiveAnnotation
from labelmesh.v1 import annotation_service_pb2 as pb
from labelmesh.v1 import annotation_service_pb2_grpc as pb_grpc
from labelmesh.v1.events_pb2 import DataType, ReviewPolicy

pytestmark = pytest.mark.integration


@pytest.fixture
async def stub(
    wired: AnnotationApp, access_service: SessionAccess
) -> AsyncIterator[pb_grpc.AnnotationServiceStub]:
    """The service's own servicer, called as the person each request names."""
    async with grpc_stub(
        wired.service.grpc_services[0],
        pb_grpc.AnnotationServiceStub,
        session_interceptors(access_service),
    ) as stub:
        yield stub


def project_request(policy: ReviewPolicy) -> pb.CreateProjectRequest:
    return pb.CreateProjectRequest(
        name="news",
        data_type=DataType.DATA_TYPE_TEXT,
        classes=["sports", "politics"],
        auto_accept_threshold=0.9,
        review_policy=policy,
    )


async def test_create_project_keeps_a_valid_review_policy_as_version_1(
    stub: pb_grpc.AnnotationServiceStub,
) -> None:
    created = await stub.CreateProject(project_request(ReviewPolicy(version=9, overlap=2)))
    policy = created.project.review_policy
    assert (policy.version, policy.overlap) == (1, 2)

    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub.CreateProject(project_request(ReviewPolicy(overlap=99)))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (bad.value.details() or "").startswith("review_policy.overlap: at most 20")


async def test_queue_stats_and_a_shared_task_over_grpc(
    stub: pb_grpc.AnnotationServiceStub, live: LiveAnnotation
) -> None:
    pid = await live.project(overlap=2)
    await live.add_items(pid, ["item-1", "item-2"])
    stats = await stub.GetQueueStats(pb.GetQueueStatsRequest(project_id=pid))
    assert (stats.open, stats.assigned, stats.gold) == (2, 0, 0)

    for annotator in ("ana", "ben"):
        response = await stub.NextTask(pb.NextTaskRequest(project_id=pid, annotator=annotator))
        task = response.task
    assert (task.status, task.assignee, list(task.assignees)) == ("assigned", "ben", ["ana", "ben"])
    assert task.task_status == pb.TASK_STATUS_ASSIGNED
    stats = await stub.GetQueueStats(pb.GetQueueStatsRequest(project_id=pid))
    assert (stats.open, stats.assigned) == (1, 1)

    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetQueueStats(pb.GetQueueStatsRequest(project_id="nope"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
