"""Two replicas of the inference service against the real broker and database:
one consumer group, the partitions split between them, every item's prediction
stored once."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import murmur2

from labelmesh.core.config import CoreSettings
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.core.runner import TOPIC_PARTITIONS, ServiceDefinition
from labelmesh.inference.app import build_app
from labelmesh.inference.config import SERVICE, InferenceSettings
from labelmesh.inference.models.catalog import ZERO_SHOT
from labelmesh.testing.services import eventually, service_settings, serving
from labelmesh.v1.events_pb2 import DataType, Envelope, ItemIngested, ProjectCreated, ProjectSpec

pytestmark = pytest.mark.integration

ITEM_IDS = [f"item-{n:02d}" for n in range(30)]


def event(payload: ItemIngested | ProjectCreated, item_id: str = "") -> Envelope:
    return new_envelope(
        payload, producer="test", actor=user_actor("dana"), project_id="news", item_id=item_id
    )


def partition_of(key: str) -> int:
    """The partition the producer's default partitioner picks for a key."""
    return (int(murmur2(key.encode())) & 0x7FFFFFFF) % TOPIC_PARTITIONS


def labelled(replica: ServiceDefinition) -> float:
    """Items this replica's zero-shot model labelled, read from its own registry."""
    value = replica.platform.registry.get_sample_value(
        "labelmesh_inference_model_items_total", {"model": ZERO_SHOT}
    )
    return value or 0.0


async def group_state(bootstrap: str, group_id: str) -> tuple[str, int]:
    """The consumer group's state and number of members, as the broker reports them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group_id])
    finally:
        await admin.close()
    [(error_code, _, state, _, _, members)] = response.groups
    assert error_code == 0, f"DescribeGroups for {group_id!r} failed with error {error_code}"
    return state, len(members)


async def test_two_replicas_split_the_partitions_and_store_each_prediction_once(
    core_settings: CoreSettings,
) -> None:
    # Every partition holds items, so whichever partitions a replica is given, it has work.
    assert {partition_of(i) for i in ITEM_IDS} == set(range(TOPIC_PARTITIONS))
    settings = service_settings(InferenceSettings, core_settings)
    app = build_app(settings)
    first, second = app.service, build_app(settings).service
    predictions = first.platform.db["predictions"]
    groups = [f"{settings.topic_prefix}.{SERVICE}.{name}" for name in ("events", "projects")]
    group = groups[0]
    async with serving(first), serving(second):

        async def both_joined() -> bool:
            states = [await group_state(settings.kafka_bootstrap_servers, g) for g in groups]
            return states == [("Stable", 2)] * len(groups)

        # Items go out only once the group has settled on both members: a
        # fetch made before the rebalance would be redone by the partition's
        # new owner (and dropped as a replay), which is correct but not the
        # split this test counts.
        await eventually(both_joined, within=20, what=f"both replicas in group {group!r}")
        project = ProjectSpec(
            project_id="news", data_type=DataType.DATA_TYPE_TEXT, classes=["sports", "politics"]
        )
        await first.platform.publisher.publish([event(ProjectCreated(project=project))])

        async def project_known() -> bool:
            return await app.repositories.projects.get("news") is not None

        await eventually(project_known, what="the project")
        await first.platform.publisher.publish(
            [
                event(ItemIngested(data_type=DataType.DATA_TYPE_TEXT, text=f"Match {i}"), i)
                for i in ITEM_IDS
            ]
        )

        async def all_predicted() -> bool:
            count = await predictions.count_documents({})
            return count >= len(ITEM_IDS)

        await eventually(all_predicted, within=20, what=f"{len(ITEM_IDS)} predictions")
        documents = await predictions.find({}).to_list(None)

    assert sorted(d["item_id"] for d in documents) == ITEM_IDS
    shares = (labelled(first), labelled(second))
    assert all(share > 0 for share in shares), f"one replica did all the work: {shares}"
    # A fetch whose transaction hit a write conflict runs again, model and all, so
    # the model may label an item twice; what it stores stays one prediction each.
    assert sum(shares) >= len(ITEM_IDS), f"items not labelled: {shares}"
    assert len(documents) == len(ITEM_IDS)
