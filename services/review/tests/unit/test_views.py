"""The views fill every closed set twice: the deprecated string and its proto enum."""

from __future__ import annotations

from enum import StrEnum

import pytest
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from labelmesh.review import enums, views
from labelmesh.review.records import CompletionSource, Outcome, ReviewState, TaskKind, TaskStatus
from labelmesh.testing.twins.review import PROJECT, ReviewOnTwins, cls
from labelmesh.v1 import events_pb2 as events
from labelmesh.v1 import review_service_pb2 as pb


@pytest.mark.parametrize(
    ("table", "members", "proto", "prefix"),
    [
        (enums.REVIEW_STATES, ReviewState, pb.ReviewState, "REVIEW_STATE_"),
        (enums.TASK_KINDS, TaskKind, pb.ReviewTaskKind, "REVIEW_TASK_KIND_"),
        (enums.TASK_STATUSES, TaskStatus, pb.ReviewTaskStatus, "REVIEW_TASK_STATUS_"),
        (enums.OUTCOMES, Outcome, pb.ReviewOutcome, "REVIEW_OUTCOME_"),
        (
            enums.COMPLETION_SOURCES,
            CompletionSource,
            events.CompletionSource,
            "COMPLETION_SOURCE_",
        ),
    ],
)
def test_each_member_maps_to_the_proto_value_of_its_name(
    table: dict[StrEnum, int], members: type[StrEnum], proto: EnumTypeWrapper, prefix: str
) -> None:
    assert {m: proto.Name(table[m]) for m in members} == {m: prefix + m.name for m in members}
    assert sorted(table.values()) == [v for v in proto.values() if v != 0]


async def test_an_items_state_is_filled_in_both_forms(review: ReviewOnTwins) -> None:
    unknown = views.item_reviews(await review.app.api.item_status("nope"))
    assert (unknown.state, unknown.review_state) == ("", pb.REVIEW_STATE_UNSPECIFIED)
    await review.with_items(("i1", ("cat", "cat", "cat")), ("i2", ("ant", "bee", "cat")))
    done = views.item_reviews(await review.app.api.item_status("i1"))
    assert (done.state, done.review_state, done.completed) == (
        "completed",
        pb.REVIEW_STATE_COMPLETED,
        True,
    )
    split = views.item_reviews(await review.app.api.item_status("i2"))
    assert (split.state, split.review_state) == ("adjudication", pb.REVIEW_STATE_ADJUDICATION)


async def test_a_task_and_the_outcome_of_its_decision_in_both_forms(review: ReviewOnTwins) -> None:
    await review.with_items(("i2", ("ant", "bee", "cat")))
    task = await review.app.tasks.next_task(PROJECT, "alice")
    assert task is not None
    shown = views.next_review_task(task).task
    assert (shown.kind, shown.task_kind, shown.status, shown.task_status) == (
        "adjudication",
        pb.REVIEW_TASK_KIND_ADJUDICATION,
        "assigned",
        pb.REVIEW_TASK_STATUS_ASSIGNED,
    )
    outcome = await review.app.tasks.decide(
        task.review_task_id, "alice", True, "bees", [cls("bee")]
    )
    decided = views.decided(outcome)
    assert (decided.outcome, decided.review_outcome) == ("completed", pb.REVIEW_OUTCOME_COMPLETED)
    closed = views.review_task(await review.app.tasks.get_task(task.review_task_id))
    assert (closed.status, closed.task_status) == ("decided", pb.REVIEW_TASK_STATUS_DECIDED)


async def test_a_flag_and_a_review_task_in_both_forms(review: ReviewOnTwins) -> None:
    await review.with_items(("i1", ("cat", "cat", "cat")))
    flagged = views.flagged(await review.app.tasks.flag_item("i1", "a lynx", "", "quinn"))
    assert (flagged.outcome, flagged.review_outcome) == ("in_review", pb.REVIEW_OUTCOME_IN_REVIEW)
    task = await review.app.tasks.next_task(PROJECT, "bob")
    assert task is not None
    shown = views.review_task(task)
    assert (shown.kind, shown.task_kind) == ("review", pb.REVIEW_TASK_KIND_REVIEW)
    sent_back = views.decided(
        await review.app.tasks.decide(task.review_task_id, "bob", False, "wolves", [])
    )
    assert (sent_back.outcome, sent_back.review_outcome) == (
        "sent_back",
        pb.REVIEW_OUTCOME_SENT_BACK,
    )
    state = views.item_reviews(await review.app.api.item_status("i1"))
    assert (state.state, state.review_state) == ("annotating", pb.REVIEW_STATE_ANNOTATING)
