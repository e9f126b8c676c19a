"""Review policies, gold standards, flagged annotators and reports, on the twins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from labelmesh.core.errors import InvalidField, NotFound
from labelmesh.review.records import Window
from labelmesh.testing.twins.review import POLICY, PROJECT, ReviewOnTwins, cls
from labelmesh.v1.events_pb2 import ReviewPolicy


async def test_a_configured_policy_gets_the_next_version(review: ReviewOnTwins) -> None:
    quality = review.app.quality
    with pytest.raises(NotFound):
        await quality.configure_policy("nope", ReviewPolicy(), "olga")
    await review.deliver(review.project_created())
    rules = ReviewPolicy()
    rules.CopyFrom(POLICY)
    rules.consensus_threshold = 1.5
    with pytest.raises(InvalidField, match=r"policy\.consensus_threshold"):
        await quality.configure_policy(PROJECT, rules, "olga")
    rules.consensus_threshold = 0.7
    configured = await quality.configure_policy(PROJECT, rules, "olga")
    assert configured.version == 2
    assert await review.app.api.policy(PROJECT) == configured
    [announced] = review.emitted("review_policy_configured", PROJECT)
    assert announced.review_policy_configured.policy == configured


async def test_gold_items_succeed_or_fail_on_their_own(review: ReviewOnTwins) -> None:
    quality = review.app.quality
    await review.deliver(review.project_created())
    with pytest.raises(InvalidField):
        await quality.set_gold(PROJECT, [], "olga")
    results = await quality.set_gold(
        PROJECT, [("g1", [cls("cat")]), ("g2", [cls("zebra")]), ("g1", [cls("dog")])], "olga"
    )
    assert [(r.item_id, r.ok, r.field) for r in results] == [
        ("g1", True, ""),
        ("g2", False, "items[1].labels[0].classification.label"),
        ("g1", False, "items[2].item_id"),
    ]
    assert [e.item_id for e in review.emitted("gold_standard_set")] == ["g1"]


async def test_a_careless_annotator_is_flagged_and_their_item_rechecked(
    review: ReviewOnTwins,
) -> None:
    await review.with_items(("i9", ("cat", "cat", "cat")))
    rules = ReviewPolicy()
    rules.CopyFrom(POLICY)
    rules.flag_below_accuracy, rules.min_gold_answers, rules.recheck_recent = 0.7, 10, 1
    await review.app.quality.configure_policy(PROJECT, rules, "olga")
    gold_ids = [f"g{n}" for n in range(20)]
    await review.app.quality.set_gold(PROJECT, [(g, [cls("cat")]) for g in gold_ids], "olga")
    await review.deliver(
        *[review.submitted(g, "cyd", "cat" if n < 5 else "dog") for n, g in enumerate(gold_ids)]
    )
    [flag] = review.emitted("annotator_flagged", PROJECT)
    assert (flag.annotator_flagged.annotator, list(flag.annotator_flagged.rechecked_item_ids)) == (
        "cyd",
        ["i9"],
    )
    assert (await review.app.api.item_status("i9")).state == "in_review"
    assert (await review.app.api.item_status("g3")).state == "gold"
    stats = {a.annotator: a for a in await review.app.quality.annotator_report(Window(PROJECT))}
    assert (stats["cyd"].gold_answers, stats["cyd"].gold_accuracy, stats["cyd"].flagged) == (
        20,
        0.25,
        True,
    )


async def test_reports_cover_the_window(review: ReviewOnTwins) -> None:
    quality = review.app.quality
    with pytest.raises(NotFound):
        await quality.annotation_scores(Window("nope"))
    await review.with_items(("i1", ("cat", "cat", "cat")), ("i2", ("ant", "bee", "cat")))
    task = await review.app.tasks.next_task(PROJECT, "alice")
    assert task is not None
    await review.app.tasks.decide(task.review_task_id, "alice", True, "bees", [cls("bee")])

    scores = await quality.annotation_scores(Window(PROJECT))
    assert len(scores) == 6
    bens = await quality.annotation_scores(Window(PROJECT, user="ben"))
    assert [s.item_id for s in bens] == ["i1", "i2"]
    [alice] = await quality.reviewer_report(Window(PROJECT))
    assert (alice.reviewer, alice.decisions, alice.settled, alice.match_rate) == (
        "alice",
        1,
        1,
        1.0,
    )
    agreement = await quality.agreement_report(Window(PROJECT))
    assert agreement.items == 2 and len(agreement.pairs) == 3
    later = Window(PROJECT, since=datetime.now(UTC) + timedelta(hours=1))
    assert await quality.annotator_report(later) == []
    assert await quality.reviewer_report(later) == []
    assert (await quality.agreement_report(later)).items == 0


async def test_an_unknown_item_has_no_state(review: ReviewOnTwins) -> None:
    status = await review.app.api.item_status("nope")
    assert (status.state, status.completed, status.reviews, status.final_labels) == (
        None,
        False,
        [],
        [],
    )
    with pytest.raises(NotFound):
        await review.app.api.policy("nope")
