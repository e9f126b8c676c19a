"""Every use case of the annotation service, on the in-memory twins."""

from __future__ import annotations

import pytest

from labelmesh.annotation.domain import NewProject
from labelmesh.annotation.queue import TaskView
from labelmesh.annotation.records import AnnotationSource, TaskStatus
from labelmesh.core.envelopes import user_actor
from labelmesh.core.errors import Conflict, InvalidField, NotFound
from labelmesh.testing.twins.annotation import AnnotationTwins
from labelmesh.v1.events_pb2 import DataType, GoldStandardSet, PredictionCreated, ProjectSpec
from labelmesh.v1.geometry_pb2 import Classification, Label, LabelSource

POLITICS = [Label(classification=Classification(label="politics"))]


def offered(suggestion_id: str, score: float, label: str = "sports") -> Label:
    return Label(
        classification=Classification(label=label),
        confidence=score,
        source=LabelSource(model_id="m", score=score, suggestion_id=suggestion_id),
    )


async def offered_to_bo(twins: AnnotationTwins, label: str = "sports") -> TaskView:
    """Bo's task on item-1, offering suggestions s1 (score 0.9) and s2 (0.4) of `label`."""
    pid = await twins.project()
    prediction = PredictionCreated(
        prediction_id="p",
        model=twins.suggestion("x").model,
        labels=[offered("s1", 0.9, label), offered("s2", 0.4, label)],
    )
    await twins.add_items(pid, "item-1")
    await twins.publish(pid, "item-1", prediction)
    task = await twins.annotation.next_task(pid, "bo")
    assert task is not None
    return task


async def test_a_created_project_is_stored_and_announced(twins: AnnotationTwins) -> None:
    pid = await twins.project(overlap=2)
    project = await twins.annotation.get_project(pid)
    assert (project.name, project.review_policy.overlap, project.review_policy.version) == (
        "queue",
        2,
        1,
    )
    [created] = twins.uow.emitted("project_created")
    assert created.project_created.project == project and created.actor.id == "owner"
    with pytest.raises(NotFound):
        await twins.annotation.get_project("nope")
    with pytest.raises(InvalidField):
        await twins.annotation.create_project(
            NewProject("", DataType.DATA_TYPE_TEXT, ["a"], 0.9), user_actor("owner")
        )
    assert len(twins.uow.emitted("project_created")) == 1


async def test_next_task_keeps_the_annotators_slot_and_shares_overlap(
    twins: AnnotationTwins,
) -> None:
    pid = await twins.project(overlap=2)
    await twins.add_items(pid, "item-1")
    ana = await twins.annotation.next_task(pid, "ana")
    ben = await twins.annotation.next_task(pid, "ben")
    assert ana is not None and ben is not None and ana.task_id == ben.task_id
    assert (ana.status, ben.status, ben.assignees) == ("open", "assigned", ["ana", "ben"])
    again = await twins.annotation.next_task(pid, "ana")
    assert again is not None and again.task_id == ana.task_id
    assert await twins.annotation.next_task(pid, "cy") is None
    assert twins.counter("labelmesh_annotation_queue_empty_total") == 1
    with pytest.raises(InvalidField):
        await twins.annotation.next_task(pid, "")
    with pytest.raises(NotFound):
        await twins.annotation.next_task("nope", "ana")


async def test_gold_is_served_at_the_ratio(twins: AnnotationTwins) -> None:
    pid = await twins.project(gold_ratio=0.5)
    await twins.publish(pid, "gold", GoldStandardSet(labels=POLITICS))
    await twins.add_items(pid, "gold", "item-1", "item-2")
    served = []
    while (task := await twins.annotation.next_task(pid, "ana")) is not None:
        served.append(task.item_id)
        await twins.annotation.submit(task.task_id, "ana", POLITICS)
    assert served[0] == "gold" and sorted(served[1:]) == ["item-1", "item-2"]
    claimed = "labelmesh_annotation_tasks_claimed_total"
    assert twins.counter(claimed, kind="gold") == 1
    assert twins.counter(claimed, kind="regular") == 2


async def test_get_task_and_queue_stats(twins: AnnotationTwins) -> None:
    pid = await twins.project()
    await twins.add_items(pid, "item-1", "item-2")
    task = await twins.annotation.next_task(pid, "ana")
    assert task is not None
    shown = await twins.annotation.get_task(task.task_id)
    assert (shown.status, shown.assignee, shown.text) == (
        TaskStatus.ASSIGNED,
        "ana",
        "text of item-1",
    )
    with pytest.raises(NotFound):
        await twins.annotation.get_task("nope")
    stats = await twins.annotation.queue_stats(pid)
    assert (stats["open"], stats["assigned"], stats["gold"]) == (1, 1, 0)
    with pytest.raises(NotFound):
        await twins.annotation.queue_stats("nope")


async def test_submit_stores_the_annotation_and_announces_it(twins: AnnotationTwins) -> None:
    pid = await twins.project()
    await twins.add_items(pid, "item-1")
    task = await twins.annotation.next_task(pid, "ana")
    assert task is not None
    annotation_id = await twins.annotation.submit(task.task_id, "ana", POLITICS)
    [stored] = await twins.annotation.item_annotations("item-1")
    assert (stored.annotation_id, stored.source, stored.round) == (
        annotation_id,
        AnnotationSource.HUMAN,
        0,
    )
    assert list(stored.labels) == POLITICS and stored.created_at is not None
    [submitted] = twins.uow.emitted("annotation_submitted")
    assert submitted.annotation_submitted.annotation_id == annotation_id
    assert (await twins.annotation.get_task(task.task_id)).status == "submitted"
    with pytest.raises(Conflict):
        await twins.annotation.submit(task.task_id, "ana", POLITICS)


async def test_an_invalid_submission_stores_nothing_and_is_counted(twins: AnnotationTwins) -> None:
    pid = await twins.project()
    await twins.add_items(pid, "item-1")
    task = await twins.annotation.next_task(pid, "ana")
    assert task is not None
    wrong = [Label(classification=Classification(label="weather"))]
    with pytest.raises(InvalidField):
        await twins.annotation.submit(task.task_id, "ana", wrong)
    assert await twins.annotation.item_annotations("item-1") == []
    rejected = "labelmesh_annotation_rejected_submissions_total"
    assert twins.counter(rejected, reason="label") == 1
    with pytest.raises(NotFound):
        await twins.annotation.submit("nope", "ana", POLITICS)


async def test_accepting_suggestions_records_their_source_and_rejects_the_rest(
    twins: AnnotationTwins,
) -> None:
    task = await offered_to_bo(twins)
    with pytest.raises(InvalidField) as unknown:
        await twins.annotation.accept_suggestions(task.task_id, ["s1", "nope"], "bo")
    assert unknown.value.field == "suggestion_ids[1]"
    annotation_id = await twins.annotation.accept_suggestions(task.task_id, ["s1"], "bo")
    [stored] = await twins.annotation.item_annotations("item-1")
    assert (stored.annotation_id, stored.source) == (annotation_id, AnnotationSource.SUGGESTION)
    assert stored.labels[0].source.accepted_by == "bo"
    [accepted] = twins.uow.emitted("suggestion_accepted")
    assert accepted.suggestion_accepted.suggestion_id == "s1"
    [rejected] = twins.uow.emitted("suggestion_rejected")
    assert rejected.suggestion_rejected.reason == "not accepted"


async def test_a_suggestion_outside_the_schema_cannot_be_accepted(twins: AnnotationTwins) -> None:
    task = await offered_to_bo(twins, label="weather")
    with pytest.raises(InvalidField):
        await twins.annotation.accept_suggestions(task.task_id, ["s1"], "bo")
    assert await twins.annotation.item_annotations("item-1") == []
    assert twins.uow.emitted("suggestion_accepted") == []


async def test_rejecting_a_suggestion_hides_it_from_the_annotator_only(
    twins: AnnotationTwins,
) -> None:
    task = await offered_to_bo(twins)
    await twins.annotation.reject_suggestion(task.task_id, "s2", "bo", " a poster ")
    after = await twins.annotation.get_task(task.task_id, "bo")
    assert [s.source.suggestion_id for s in after.suggestion] == ["s1"]
    [rejected] = twins.uow.emitted("suggestion_rejected")
    assert rejected.suggestion_rejected.reason == "a poster"
    with pytest.raises(NotFound):
        await twins.annotation.reject_suggestion(task.task_id, "s2", "bo", "")
    with pytest.raises(Conflict):
        await twins.annotation.reject_suggestion(task.task_id, "s1", "cy", "")
    assert isinstance(await twins.annotation.get_project(task.project_id), ProjectSpec)
