"""Annotation's event steps through the dispatcher, on the in-memory twins."""

from __future__ import annotations

import pytest

from labelmesh.annotation.handlers import TABLE
from labelmesh.annotation.records import AnnotationDecision, AnnotationSource, TaskStatus
from labelmesh.core.errors import Conflict
from labelmesh.core.topics import ITEMS, PREDICTIONS, PROJECTS, REVIEWS
from labelmesh.testing.twins.annotation import AnnotationTwins
from labelmesh.v1.events_pb2 import (
    AnnotationAutoAccepted,
    DataType,
    GoldStandardSet,
    ItemCompleted,
    ItemDeleted,
    ItemIngested,
    PredictionCreated,
    PredictionFailed,
    PredictionSource,
    ProjectCreated,
    ReviewDecided,
    ReviewDecision,
    ReviewPolicy,
    ReviewPolicyConfigured,
)
from labelmesh.v1.geometry_pb2 import Classification, Label

POLITICS = [Label(classification=Classification(label="politics"))]
REWORK = "labelmesh_annotation_rework_decisions_total"
DELETED = ItemDeleted(
    reason="object deleted from s3://photos/1.jpg", source_uri="s3://photos/1.jpg"
)


def test_the_table_consumes_four_families_and_ignores_project_created() -> None:
    assert TABLE.families == sorted([ITEMS, PREDICTIONS, PROJECTS, REVIEWS])
    assert not TABLE.handles(ProjectCreated.DESCRIPTOR.full_name)


async def test_a_task_waits_for_its_item_and_replays_change_nothing(
    twins: AnnotationTwins,
) -> None:
    pid = await twins.project()
    [prediction] = await twins.publish(pid, "item-1", twins.suggestion("item-1"))
    await twins.events.handle([prediction, prediction])
    assert len(twins.uow.emitted("task_created")) == 1
    assert await twins.annotation.next_task(pid, "bo") is None
    ingested = ItemIngested(data_type=DataType.DATA_TYPE_TEXT, text="a match report")
    await twins.publish(pid, "item-1", ingested)
    await twins.events.handle([prediction])
    task = await twins.annotation.next_task(pid, "bo")
    assert task is not None and (task.text, task.status) == ("a match report", "assigned")
    assert len(twins.uow.emitted("task_created")) == 1
    created = "labelmesh_annotation_tasks_created_total"
    assert twins.counter(created, with_suggestion="true") == 1


async def test_an_unreadable_item_gets_a_task_without_suggestion(twins: AnnotationTwins) -> None:
    pid = await twins.project()
    failed = PredictionFailed(
        prediction_id="f", model=twins.suggestion("x").model, reason="not an image"
    )
    await twins.publish(pid, "item-1", ItemIngested(text="x"), failed)
    [created] = twins.uow.emitted("task_created")
    assert list(created.task_created.suggestion) == []
    task = await twins.stores.tasks.get(created.task_created.task_id)
    assert task is not None and task.prediction_error == "not an image"


async def test_auto_accepted_work_stores_a_model_annotation(twins: AnnotationTwins) -> None:
    pid = await twins.project()
    confident = PredictionCreated(prediction_id="p", auto_accepted=True, labels=POLITICS)
    accepted = AnnotationAutoAccepted(
        annotation_id="a-1", prediction_id="p", labels=POLITICS, threshold=0.9, rule_version=2
    )
    await twins.publish(pid, "item-1", confident, accepted)
    assert twins.uow.emitted("task_created") == []
    [stored] = await twins.annotation.item_annotations("item-1")
    assert (stored.source, stored.decision, stored.rule_version) == (
        AnnotationSource.MODEL,
        AnnotationDecision.AUTO_ACCEPTED,
        2,
    )
    assert (await twins.annotation.queue_stats(pid))["auto_accepted"] == 1
    assert twins.counter("labelmesh_annotation_annotations_total", source="model") == 1


async def test_assist_suggestions_join_a_waiting_task(twins: AnnotationTwins) -> None:
    pid = await twins.project()
    await twins.add_items(pid, "item-1")
    assist = twins.suggestion("item-1")
    assist.source = PredictionSource.PREDICTION_SOURCE_ASSIST
    failed = PredictionFailed(source=PredictionSource.PREDICTION_SOURCE_ASSIST)
    await twins.publish(pid, "item-1", assist, failed)
    task = await twins.annotation.next_task(pid, "bo")
    assert task is not None and len(task.suggestion) == 2
    assert len(twins.uow.emitted("task_created")) == 1


async def test_a_rejected_round_reopens_once_and_approval_completes(
    twins: AnnotationTwins,
) -> None:
    pid = await twins.project(overlap=2)
    await twins.add_items(pid, "item-1")
    for annotator in ("ana", "ben"):
        task = await twins.annotation.next_task(pid, annotator)
        assert task is not None
        await twins.annotation.submit(task.task_id, annotator, POLITICS)
    rejected = ReviewDecided(
        task_id=task.task_id, decision=ReviewDecision.REVIEW_DECISION_REJECTED, round=0
    )
    [first, _] = await twins.publish(pid, "item-1", rejected, rejected)
    await twins.events.handle([first])
    reopened = await twins.stores.tasks.get(task.task_id)
    assert reopened is not None
    assert (reopened.status, reopened.round, reopened.rework_count) == (TaskStatus.OPEN, 1, 1)
    assert (
        twins.counter(REWORK, outcome="reopened"),
        twins.counter(REWORK, outcome="ignored"),
    ) == (
        1,
        1,
    )
    approved = ReviewDecided(task_id=task.task_id, decision=ReviewDecision.REVIEW_DECISION_APPROVED)
    await twins.publish(pid, "item-1", approved, ReviewDecided())
    assert (await twins.annotation.get_task(task.task_id)).status == "completed"


async def test_final_labels_close_the_task_and_gold_stays(twins: AnnotationTwins) -> None:
    pid = await twins.project()
    await twins.publish(pid, "gold", GoldStandardSet(labels=POLITICS))
    await twins.publish(pid, "", GoldStandardSet(labels=POLITICS), ItemCompleted())
    await twins.add_items(pid, "gold", "item-1")
    await twins.publish(pid, "item-1", ItemCompleted(labels=POLITICS))
    await twins.publish(pid, "gold", ItemCompleted(labels=POLITICS))
    stats = await twins.annotation.queue_stats(pid)
    assert (stats["completed"], stats["gold"], stats["open"]) == (1, 1, 0)


async def test_a_newer_policy_sets_the_overlap_of_new_tasks_only(twins: AnnotationTwins) -> None:
    pid = await twins.project(overlap=1)
    await twins.add_items(pid, "before")
    for version, overlap in ((2, 3), (2, 4), (1, 5)):
        policy = ReviewPolicy(version=version, overlap=overlap)
        await twins.publish(pid, "", ReviewPolicyConfigured(policy=policy))
    assert (await twins.annotation.get_project(pid)).review_policy.overlap == 3
    await twins.add_items(pid, "after")
    tasks = {t.item_id: (t.overlap, t.open_slots) for t in twins.stores.tasks.tasks.values()}
    assert tasks == {"before": (1, 1), "after": (3, 3)}


async def test_a_failing_fetch_leaves_nothing_written(twins: AnnotationTwins) -> None:
    pid = await twins.project()
    accepted = AnnotationAutoAccepted(annotation_id="dup", labels=POLITICS)
    again = AnnotationAutoAccepted(annotation_id="dup", labels=POLITICS)
    commits = twins.uow.commits
    try:
        await twins.publish(pid, "item-1", ItemIngested(text="x"), accepted, again)
    except Exception:
        pass
    assert twins.uow.commits == commits
    assert await twins.annotation.item_annotations("item-1") == []
    assert twins.stores.tasks.tasks == {}


async def test_a_deleted_items_open_tasks_are_cancelled_and_never_handed_out(
    twins: AnnotationTwins,
) -> None:
    pid = await twins.project(overlap=2)
    await twins.publish(pid, "gold", GoldStandardSet(labels=POLITICS))
    await twins.add_items(pid, "taken", "waiting", "gold", "kept")
    taken = await twins.annotation.next_task(pid, "ana")
    assert taken is not None and taken.item_id == "taken"
    [deleted, *_] = [
        *await twins.publish(pid, "taken", DELETED),
        *await twins.publish(pid, "waiting", DELETED),
        *await twins.publish(pid, "gold", DELETED),
    ]
    # Redelivered, and again in a later fetch under a new event id: nothing moves.
    await twins.events.handle([deleted])
    await twins.publish(pid, "taken", DELETED)

    statuses = {t.item_id: t.status for t in twins.stores.tasks.tasks.values()}
    assert statuses == {
        "taken": TaskStatus.CANCELLED,
        "waiting": TaskStatus.CANCELLED,
        "gold": TaskStatus.CANCELLED,
        "kept": TaskStatus.OPEN,
    }
    stats = await twins.annotation.queue_stats(pid)
    assert (stats["cancelled"], stats["open"], stats["gold"]) == (2, 1, 1)
    # Ana's task is no longer hers to finish; the one task left fills its two slots.
    with pytest.raises(Conflict, match="cancelled: its item was deleted"):
        await twins.annotation.submit(taken.task_id, "ana", POLITICS)
    assert (await twins.annotation.get_task(taken.task_id, "ana")).status == "cancelled"
    for annotator in ("ana", "bo"):
        task = await twins.annotation.next_task(pid, annotator)
        assert task is not None and task.item_id == "kept"
    assert await twins.annotation.next_task(pid, "cy") is None


async def test_work_handed_in_before_the_deletion_stays_but_no_round_follows(
    twins: AnnotationTwins,
) -> None:
    pid = await twins.project()
    await twins.add_items(pid, "rejected", "approved")
    tasks = {}
    for _ in range(2):
        task = await twins.annotation.next_task(pid, "ana")
        assert task is not None
        tasks[task.item_id] = task.task_id
        await twins.annotation.submit(task.task_id, "ana", POLITICS)
    await twins.publish(pid, "rejected", DELETED)
    await twins.publish(pid, "approved", DELETED)
    assert (await twins.annotation.get_task(tasks["rejected"])).status == "submitted"

    rejected = ReviewDecided(
        task_id=tasks["rejected"], decision=ReviewDecision.REVIEW_DECISION_REJECTED, round=0
    )
    approved = ReviewDecided(
        task_id=tasks["approved"], decision=ReviewDecision.REVIEW_DECISION_APPROVED
    )
    await twins.publish(pid, "rejected", rejected)
    await twins.publish(pid, "approved", approved)
    assert (await twins.annotation.get_task(tasks["rejected"])).status == "cancelled"
    assert (await twins.annotation.get_task(tasks["approved"])).status == "completed"
    assert twins.counter(REWORK, outcome="ignored") == 1
    assert await twins.annotation.next_task(pid, "bo") is None
    for item_id in tasks:
        [work] = await twins.annotation.item_annotations(item_id)
        assert (work.annotator, work.source) == ("ana", AnnotationSource.HUMAN)


async def test_an_item_deleted_before_it_was_heard_of_never_gets_an_open_task(
    twins: AnnotationTwins,
) -> None:
    pid = await twins.project()
    await twins.publish(pid, "early", DELETED)
    await twins.publish(pid, "", DELETED)  # names no item: nothing to cancel
    await twins.add_items(pid, "early")
    [task] = twins.stores.tasks.tasks.values()
    assert (task.item_id, task.status, task.item_ready) == ("early", TaskStatus.CANCELLED, True)
    assert twins.uow.emitted("task_created") == []
    assert await twins.annotation.next_task(pid, "ana") is None
    assert (await twins.annotation.queue_stats(pid))["cancelled"] == 1
