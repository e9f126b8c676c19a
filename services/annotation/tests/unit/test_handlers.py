"""Annotation's event steps through the dispatcher, on the in-memory twins."""

from __future__ import annotations

from labelmesh.annotation.handlers import TABLE
from labelmesh.annotation.records import AnnotationDecision, AnnotationSource, TaskStatus
from labelmesh.core.topics import ITEMS, PREDICTIONS, PROJECTS, REVIEWS
from labelmesh.testing.twins.annotation import AnnotationTwins
from labelmesh.v1.events_pb2 import (
    AnnotationAutoAccepted,
    DataType,
    GoldStandardSet,
    ItemCompleted,
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
