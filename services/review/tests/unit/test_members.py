"""Who may review: the project's memberships as review copies them from the
access service's events, on the twins."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from labelmesh.core.errors import InvalidField
from labelmesh.review.records import Outcome, TaskKind
from labelmesh.testing.twins.review import POLICY, PROJECT, ReviewOnTwins
from labelmesh.v1.events_pb2 import ProjectMember, ReviewCoverage, ReviewPolicy, ReviewStage, Role

EXPERT, REVIEWER, ANNOTATOR = Role.ROLE_EXPERT, Role.ROLE_REVIEWER, Role.ROLE_ANNOTATOR


async def test_the_policy_lists_the_memberships_of_the_project_and_its_organisation(
    review: ReviewOnTwins,
) -> None:
    change = review.membership_changed
    await review.deliver(
        review.project_created(),
        change("alice", EXPERT),
        change("alice", ANNOTATOR, project_id=""),
        change("bob", REVIEWER, project_id=""),
        change("carol", REVIEWER, teams=["qa-berlin"]),
        change("dave", EXPERT, project_id="p2"),
        change("erin", EXPERT),
    )
    await review.deliver(change("erin"))
    assert list((await review.app.api.policy(PROJECT)).members) == [
        ProjectMember(user="alice", roles=["annotator", "expert"]),
        ProjectMember(user="bob", roles=["reviewer"]),
        ProjectMember(user="carol", roles=["reviewer"], teams=["qa-berlin"]),
    ]


async def test_a_membership_change_arriving_after_a_later_one_is_dropped(
    review: ReviewOnTwins,
) -> None:
    earlier, later = datetime(2026, 1, 1, 9, tzinfo=UTC), datetime(2026, 1, 1, 10, tzinfo=UTC)
    change = review.membership_changed
    await review.deliver(review.project_created(), change("alice", EXPERT, at=later))
    await review.deliver(change("alice", at=earlier))
    assert [m.user for m in (await review.app.api.policy(PROJECT)).members] == ["alice"]
    await review.deliver(change("alice", at=later.replace(minute=1)))
    assert list((await review.app.api.policy(PROJECT)).members) == []


async def test_a_team_stage_goes_to_the_teams_members_only(review: ReviewOnTwins) -> None:
    by_team = ReviewPolicy(
        overlap=3,
        stages=[
            ReviewStage(
                name="berlin", team="qa-berlin", coverage=ReviewCoverage.REVIEW_COVERAGE_FLAGGED
            )
        ],
    )
    change = review.membership_changed
    await review.deliver(
        review.project_created(by_team),
        change("carol", REVIEWER, teams=["qa-berlin"]),
        change("bob", EXPERT),
    )
    await review.deliver(*[review.submitted("i1", who, "cat") for who in ("ann", "ben", "cyd")])
    tasks = review.app.tasks
    assert await tasks.flag_item("i1", "check it", "", "olga") == Outcome.IN_REVIEW
    assert await tasks.next_task(PROJECT, "bob") is None
    task = await tasks.next_task(PROJECT, "carol")
    assert task is not None and (task.kind, task.team) == (TaskKind.REVIEW, "qa-berlin")
    await review.deliver(change("carol", REVIEWER))  # no longer in the team
    with pytest.raises(InvalidField, match="team 'qa-berlin'"):
        await tasks.decide(task.review_task_id, "carol", True, "", [])


async def test_whoever_loses_their_roles_takes_no_more_review_tasks(review: ReviewOnTwins) -> None:
    await review.with_items(("i2", ("ant", "bee", "cat")))
    await review.deliver(review.membership_changed("alice"))
    with pytest.raises(InvalidField, match="holds no role"):
        await review.app.tasks.next_task(PROJECT, "alice")
    assert await review.app.tasks.next_task(PROJECT, "bob") is not None


async def test_a_written_policy_may_carry_its_members_only_unchanged(
    review: ReviewOnTwins,
) -> None:
    await review.with_items()
    quality = review.app.quality
    read = await review.app.api.policy(PROJECT)
    assert [m.user for m in read.members] == ["alice", "bob"]
    read.consensus_threshold = 0.9
    written = await quality.configure_policy(PROJECT, read, "olga")
    assert (written.version, written.consensus_threshold, list(written.members)) == (2, 0.9, [])
    assert [m.user for m in (await review.app.api.policy(PROJECT)).members] == ["alice", "bob"]
    changed = ReviewPolicy()
    changed.CopyFrom(POLICY)
    changed.members.add(user="mallory", roles=["expert"])
    with pytest.raises(InvalidField, match=r"policy\.members.*SetMembership"):
        await quality.configure_policy(PROJECT, changed, "olga")
