"""Annotation's handlers against the real broker and database."""

from __future__ import annotations

import uuid

import pytest

from labelmesh.annotation.domain import NewProject
from labelmesh.annotation.usecases import Annotation
from labelmesh.core.envelopes import model_actor, new_envelope, user_actor
from labelmesh.core.outbox import stored_events
from labelmesh.core.runner import ServiceDefinition
from labelmesh.testing.services import eventually
from labelmesh.testing.twins.annotation import LiveAnnotation
from labelmesh.v1.events_pb2 import (
    DataType,
    Envelope,
    ImportedAnnotation,
    ItemCompleted,
    ItemDeleted,
    ItemIngested,
    ModelRef,
    PredictionCreated,
    ReviewDecided,
    ReviewDecision,
    ReviewPolicy,
    ReviewPolicyConfigured,
)
from labelmesh.v1.geometry_pb2 import Classification, Label

pytestmark = pytest.mark.integration


async def test_tasks_wait_for_their_item_and_replays_change_nothing(
    service: ServiceDefinition, app: Annotation
) -> None:
    db = service.platform.db
    project = await app.create_project(
        NewProject("p", DataType.DATA_TYPE_TEXT, ["sports", "politics"], 0.9), user_actor("alice")
    )
    pid = project.project_id
    prediction = new_envelope(
        PredictionCreated(
            prediction_id="pr-1",
            model=ModelRef(id="m", version="1"),
            labels=[Label(classification=Classification(label="sports"), confidence=0.6)],
            threshold=0.9,
        ),
        producer="inference",
        actor=model_actor("m", "1"),
        project_id=pid,
        item_id="item-1",
    )
    ingested = new_envelope(
        ItemIngested(data_type=DataType.DATA_TYPE_TEXT, text="a match report"),
        producer="ingest",
        actor=model_actor("x", "1"),
        project_id=pid,
        item_id="item-1",
    )
    # The prediction arrives first, twice: the task exists but is not handed out.
    await service.platform.publisher.publish([prediction, prediction])

    async def task_created() -> bool:
        return len(await stored_events(db, "labelmesh.v1.TaskCreated")) >= 1

    await eventually(task_created, what="TaskCreated")
    assert await app.next_task(pid, "bo") is None

    await service.platform.publisher.publish([ingested, prediction])

    async def item_ready() -> bool:
        return await db["tasks"].count_documents({"item_id": "item-1", "item_ready": True}) == 1

    await eventually(item_ready, what="the item details on the task")
    task = await app.next_task(pid, "bo")
    assert task is not None
    assert (task.item_id, task.text, task.status) == ("item-1", "a match report", "assigned")
    assert task.suggestion[0].classification.label == "sports"
    assert await db["tasks"].count_documents({}) == 1
    assert len(await stored_events(db, "labelmesh.v1.TaskCreated")) == 1


POLITICS = [Label(classification=Classification(label="politics"))]


def rejected(task_id: str, annotation_id: str, round_: int) -> ReviewDecided:
    return ReviewDecided(
        review_id=str(uuid.uuid4()),
        annotation_id=annotation_id,
        decision=ReviewDecision.REVIEW_DECISION_REJECTED,
        task_id=task_id,
        round=round_,
    )


async def test_a_rejected_round_reopens_once_however_many_rejections_arrive(
    live: LiveAnnotation,
) -> None:
    app, service = live.annotation, live.service
    pid = await live.project(overlap=3)
    await live.add_items(pid, ["item-1"])
    annotations, task_ids = {}, set()
    for annotator in ("ana", "ben", "cy"):
        task = await app.next_task(pid, annotator)
        assert task is not None
        annotations[annotator] = await app.submit(task.task_id, annotator, POLITICS)
        task_ids.add(task.task_id)
    [task_id] = task_ids
    assert (await app.get_task(task_id)).status == "submitted"

    # One rejection per annotation of round 0, and the first delivered three times.
    decisions = [rejected(task_id, a, 0) for a in annotations.values()]
    [first, *_] = await live.publish(pid, "item-1", decisions)
    await service.platform.publisher.publish([first, first])
    await live.publish(pid, "item-1", [rejected(task_id, annotations["ana"], 0)])  # stale by now

    document = await service.platform.db["tasks"].find_one({"_id": task_id})
    assert document is not None
    assert (document["status"], document["round"], document["rework_count"]) == ("open", 1, 1)
    assert (document["open_slots"], document["takers"], document["submitted"]) == (3, [], [])
    name = "labelmesh_annotation_rework_decisions_total"
    assert live.counter(name, outcome="reopened") == 1
    assert live.counter(name, outcome="ignored") == 3

    # Round 1: the same annotators may take it again, and their work says which round.
    again = await app.next_task(pid, "ana")
    assert again is not None and again.task_id == task_id and again.assignees == ["ana"]
    await app.submit(task_id, "ana", POLITICS)
    rounds = sorted(e.annotation_submitted.round for e in await outbox_events(service))
    assert rounds == [0, 0, 0, 1]


async def test_a_rejection_sends_a_completed_task_back(live: LiveAnnotation) -> None:
    app = live.annotation
    pid, task, annotation_id = await live.submitted(POLITICS)
    approved = ReviewDecided(
        review_id="r-1",
        annotation_id=annotation_id,
        decision=ReviewDecision.REVIEW_DECISION_APPROVED,
        task_id=task.task_id,
    )
    await live.publish(pid, "item-1", [approved])
    assert (await app.get_task(task.task_id)).status == "completed"
    assert await app.next_task(pid, "ben") is None

    await live.publish(pid, "item-1", [rejected(task.task_id, annotation_id, 0)])
    reopened = await app.get_task(task.task_id)
    assert (reopened.status, reopened.assignee, reopened.assignees) == ("open", "", [])
    ben = await app.next_task(pid, "ben")
    assert ben is not None and (ben.task_id, ben.status) == (task.task_id, "assigned")


async def test_final_labels_close_a_task_whose_annotations_were_all_overruled(
    live: LiveAnnotation,
) -> None:
    app = live.annotation
    pid, task, annotation_id = await live.submitted(POLITICS)
    overruled = ReviewDecided(
        review_id="r-1",
        annotation_id=annotation_id,
        decision=ReviewDecision.REVIEW_DECISION_REJECTED,  # no task: nothing to rework
    )
    await live.publish(pid, "item-1", [overruled])
    assert (await app.get_task(task.task_id)).status == "submitted"
    await live.publish(pid, "item-1", [ItemCompleted(labels=POLITICS, source="adjudication")])
    assert (await app.get_task(task.task_id)).status == "completed"


async def test_a_newer_review_policy_sets_the_overlap_of_new_tasks_only(
    live: LiveAnnotation,
) -> None:
    pid = await live.project(overlap=1)
    await live.add_items(pid, ["before"])

    async def configure(version: int, overlap: int) -> None:
        policy = ReviewPolicy(version=version, overlap=overlap, gold_ratio=0.1)
        await live.publish(pid, "", [ReviewPolicyConfigured(policy=policy)])

    await configure(2, 3)
    await configure(2, 4)  # the same version again: already applied
    await configure(1, 5)  # older: ignored
    policy = (await live.annotation.get_project(pid)).review_policy
    assert (policy.version, policy.overlap) == (2, 3)
    assert policy.gold_ratio == pytest.approx(0.1)

    await live.add_items(pid, ["after"])
    overlaps = {
        d["item_id"]: (d["overlap"], d["open_slots"])
        async for d in live.service.platform.db["tasks"].find({"project_id": pid})
    }
    assert overlaps == {"before": (1, 1), "after": (3, 3)}


async def outbox_events(service: ServiceDefinition) -> list[Envelope]:
    return await stored_events(service.platform.db, "labelmesh.v1.AnnotationSubmitted")


async def test_imported_annotations_are_stored_and_announced_once(live: LiveAnnotation) -> None:
    service, db = live.service, live.service.platform.db
    pid = await live.project(overlap=2)
    arrival = new_envelope(
        ItemIngested(
            data_type=DataType.DATA_TYPE_TEXT,
            text="a match report",
            source="label-studio",
            imported_annotations=[
                ImportedAnnotation(labels=POLITICS, annotator="alice@ls", origin_id="ls-1"),
                ImportedAnnotation(labels=POLITICS, annotator="bob@ls", origin_id="ls-2"),
            ],
        ),
        producer="ingest",
        actor=user_actor("ida"),
        project_id=pid,
        item_id="item-1",
    )
    again = Envelope()
    again.CopyFrom(arrival)
    again.event_id = str(uuid.uuid4())
    await live.publish_and_wait([arrival, arrival, again])

    submitted = await stored_events(db, "labelmesh.v1.AnnotationSubmitted")
    assert sorted(e.annotation_submitted.origin_annotator for e in submitted) == [
        "alice@ls",
        "bob@ls",
    ]
    assert {e.actor.id for e in submitted} == {"ida"}
    stored = await live.annotation.item_annotations("item-1")
    assert sorted(a.origin_id for a in stored) == ["ls-1", "ls-2"]
    task = await live.annotation.get_task(stored[0].task_id)
    assert task.status == "submitted"
    assert await service.platform.db["annotations"].count_documents({}) == 2


async def test_a_deleted_items_open_task_is_cancelled_and_finished_work_stays(
    live: LiveAnnotation,
) -> None:
    app, db = live.annotation, live.service.platform.db
    pid = await live.project(overlap=1)
    await live.add_items(pid, ["item-1", "item-2", "item-3"])
    done = await app.next_task(pid, "ana")
    assert done is not None
    sports = [Label(classification=Classification(label="sports"))]
    annotation_id = await app.submit(done.task_id, "ana", sports)
    cancelled, kept = sorted({"item-1", "item-2", "item-3"} - {done.item_id})
    gone = [
        new_envelope(
            ItemDeleted(reason="object deleted from s3://photos/1.jpg"),
            producer="ingest",
            actor=user_actor("sync"),
            project_id=pid,
            item_id=item_id,
        )
        for item_id in (cancelled, done.item_id, "never-seen")
    ]
    # Delivered twice: the second time changes nothing.
    await live.publish_and_wait([*gone, *gone])

    statuses = {d["item_id"]: d["status"] async for d in db["tasks"].find({"project_id": pid})}
    assert statuses == {
        cancelled: "cancelled",
        done.item_id: "submitted",
        kept: "open",
        "never-seen": "cancelled",
    }
    stats = await app.queue_stats(pid)
    assert (stats["cancelled"], stats["submitted"], stats["open"]) == (2, 1, 1)
    [work] = await app.item_annotations(done.item_id)
    assert work.annotation_id == annotation_id
    task = await app.next_task(pid, "ben")
    assert task is not None and task.item_id == kept
    assert await app.next_task(pid, "cy") is None
