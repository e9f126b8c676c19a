"""The review's event steps through the dispatcher, on the twins."""

from __future__ import annotations

import pytest

from labelmesh.core.errors import RetryLater
from labelmesh.core.topics import ACCESS, ANNOTATIONS, PREDICTIONS, PROJECTS
from labelmesh.review.handlers import TABLE
from labelmesh.review.records import Window
from labelmesh.testing.twins.review import POLICY, PROJECT, ReviewOnTwins
from labelmesh.v1.events_pb2 import COMPLETION_SOURCE_CONSENSUS, COMPLETION_SOURCE_MODEL


def test_the_table_consumes_projects_predictions_annotations_and_memberships() -> None:
    assert TABLE.families == sorted([PROJECTS, PREDICTIONS, ANNOTATIONS, ACCESS])
    assert TABLE.handles("labelmesh.v1.MembershipChanged")
    assert not TABLE.handles("labelmesh.v1.ApiKeyCreated")
    assert not TABLE.handles("labelmesh.v1.ReviewPolicyConfigured")
    assert not TABLE.handles("labelmesh.v1.PredictionCreated")
    assert TABLE.handles("labelmesh.v1.AnnotationAutoAccepted")


async def test_a_created_project_is_kept_with_its_policy(review: ReviewOnTwins) -> None:
    created = review.project_created()
    await review.deliver(created)
    await review.deliver(created)  # a replay changes nothing
    policy = await review.app.api.policy(PROJECT)
    assert (policy.version, policy.overlap, policy.stages[0].name) == (
        1,
        POLICY.overlap,
        "expert check",
    )
    assert review.uow.commits == 2


async def test_agreeing_annotations_complete_an_item_once(review: ReviewOnTwins) -> None:
    await review.deliver(review.project_created())
    first = review.submitted("i1", "ann", "cat")
    await review.deliver(first, first, review.submitted("i1", "ben", "cat"))
    await review.deliver(first, review.submitted("i1", "cyd", "cat"))
    status = await review.app.api.item_status("i1")
    assert (
        status.state,
        status.completed,
        [label.classification.label for label in status.final_labels],
    ) == (
        "completed",
        True,
        ["cat"],
    )
    assert len(status.reviews) == 3
    [completed] = review.emitted("item_completed", "i1")
    assert (completed.item_completed.source, completed.item_completed.completion_source) == (
        "consensus",
        COMPLETION_SOURCE_CONSENSUS,
    )
    assert len(review.emitted("quality_scored", "i1")) == 3
    copies = await review.app.store.annotations.in_window(Window(PROJECT))
    assert sorted(c.annotator for c in copies) == ["ann", "ben", "cyd"]


async def test_a_split_goes_to_adjudication(review: ReviewOnTwins) -> None:
    await review.with_items(("i2", ("ant", "bee", "cat")))
    assert (await review.app.api.item_status("i2")).state == "adjudication"
    [requested] = review.emitted("adjudication_requested", "i2")
    assert len(requested.adjudication_requested.candidates) == 3


async def test_an_annotation_of_an_unknown_project_waits(review: ReviewOnTwins) -> None:
    with pytest.raises(RetryLater):
        await review.deliver(review.submitted("i1", "ann", "cat"))
    assert review.uow.commits == 0


async def test_a_models_accepted_label_is_final_without_the_project(review: ReviewOnTwins) -> None:
    twice = review.auto_accepted("i1")
    await review.deliver(twice, twice)
    await review.deliver(twice)
    status = await review.app.api.item_status("i1")
    assert (status.state, len(status.reviews)) == ("completed", 1)
    assert [
        (e.item_completed.source, e.item_completed.completion_source)
        for e in review.emitted("item_completed", "i1")
    ] == [("model", COMPLETION_SOURCE_MODEL)]
