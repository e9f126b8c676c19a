"""An item's way through its project's review policy: the pure state machine."""

from collections.abc import Iterable, Sequence
from typing import TypeVar

import pytest
from google.protobuf.message import Message

from labelmesh.core.errors import Conflict
from labelmesh.review import pipeline
from labelmesh.review.pipeline import Context, Effects, ItemState, Submission
from labelmesh.review.records import CompletionSource, Outcome, ReviewState, ScoreReference
from labelmesh.v1.events_pb2 import (
    COMPLETION_SOURCE_ADJUDICATION,
    COMPLETION_SOURCE_CONSENSUS,
    COMPLETION_SOURCE_HUMAN,
    COMPLETION_SOURCE_MODEL,
    SCORE_REFERENCE_GOLD,
    AdjudicationDecided,
    AdjudicationRequested,
    AutoApproveRules,
    ItemCompleted,
    ItemFlagged,
    ReviewCoverage,
    ReviewDecided,
    ReviewPolicy,
    ReviewRequested,
    ReviewStage,
)
from labelmesh.v1.geometry_pb2 import (
    BoundingBox,
    Classification,
    Label,
    Point,
    Polygon,
    TimeSegment,
    Transcription,
)

E = TypeVar("E", bound=Message)
ALL = ReviewCoverage.REVIEW_COVERAGE_ALL
FRACTION = ReviewCoverage.REVIEW_COVERAGE_FRACTION
FLAGGED = ReviewCoverage.REVIEW_COVERAGE_FLAGGED
APPROVED = pipeline.APPROVED
REJECTED = pipeline.REJECTED


def cls(name: str, confidence: float = 1.0) -> Label:
    return Label(classification=Classification(label=name), confidence=confidence)


def box(x: float, y: float, w: float = 10, h: float = 10) -> Label:
    return Label(bounding_box=BoundingBox(label="car", x=x, y=y, width=w, height=h))


def classes(labels: Iterable[Label]) -> list[str]:
    return [label.classification.label for label in labels]


def stage(name: str, coverage: ReviewCoverage = ALL, fraction: float = 0.0) -> ReviewStage:
    return ReviewStage(name=name, role="reviewer", coverage=coverage, fraction=fraction)


def policy(*stages: ReviewStage, **fields: object) -> ReviewPolicy:
    fields = {"version": 3, "overlap": 3, "consensus_threshold": 0.6} | fields
    return ReviewPolicy(stages=stages, **fields)  # type: ignore[arg-type]


def context(
    rules: ReviewPolicy,
    *,
    with_model: float = 0.0,
    weights: dict[str, float] | None = None,
    flagged: Iterable[str] = (),
) -> Context:
    return Context(rules, with_model, weights or {}, frozenset(flagged))


def submission(
    annotator: str, *labels: Label, suggestion: Sequence[Label] = (), round_: int = 0
) -> Submission:
    return Submission(
        annotation_id=f"ann-{annotator}-{round_}",
        annotator=annotator,
        task_id=f"task-{annotator}",
        labels=list(labels),
        suggestion=list(suggestion),
        seconds_spent=12.0,
        round=round_,
    )


def completion(event: ItemCompleted) -> tuple[str, int]:
    """An ItemCompleted's source in both forms: the deprecated string and the enum."""
    return event.source, event.completion_source


def new_item() -> ItemState:
    return ItemState("item-1", "p1")


def annotate(item: ItemState, ctx: Context, votes: dict[str, Label], overlap: int = 3) -> Effects:
    """Each annotator's one label, submitted in order; the effects of every step."""
    total = Effects()
    for annotator, label in votes.items():
        fx = pipeline.add_submission(
            item, submission(annotator, label, round_=item.round), overlap, ctx
        )
        total.events += fx.events
        total.tasks += fx.tasks
        total.scores += fx.scores
        total.final_labels = fx.final_labels if fx.final_labels is not None else total.final_labels
    return total


def of(fx: Effects, kind: type[E]) -> list[E]:
    return [event for event in fx.events if isinstance(event, kind)]


def only(fx: Effects, kind: type[E]) -> E:
    found = of(fx, kind)
    assert len(found) == 1, f"{len(found)} {kind.__name__} in {fx.events}"
    return found[0]


UNANIMOUS = {"ann": cls("cat"), "bob": cls("cat"), "cyd": cls("cat")}
MAJORITY = {"ann": cls("cat"), "bob": cls("cat"), "cyd": cls("dog")}
SPLIT = {"ann": cls("ant"), "bob": cls("bee"), "cyd": cls("cat")}


# --- collecting a round ------------------------------------------------------------------------


def test_overlap_three_waits_for_the_third_annotation() -> None:
    item, ctx = new_item(), context(policy())
    first_two = annotate(item, ctx, {"ann": cls("cat"), "bob": cls("cat")})
    assert (first_two.events, first_two.tasks, first_two.scores) == ([], [], [])
    assert (item.state, item.expected, len(item.submissions)) == (ReviewState.ANNOTATING, 3, 2)
    last = annotate(item, ctx, {"cyd": cls("cat")})
    assert item.state == ReviewState.COMPLETED
    assert completion(only(last, ItemCompleted)) == ("consensus", COMPLETION_SOURCE_CONSENSUS)


def test_the_same_annotation_twice_counts_once() -> None:
    item, ctx = new_item(), context(policy())
    annotate(item, ctx, {"ann": cls("cat")})
    again = pipeline.add_submission(item, submission("ann", cls("cat")), 3, ctx)
    annotate(item, ctx, {"bob": cls("cat")})
    assert again.events == []
    assert [s.annotator for s in item.submissions] == ["ann", "bob"]
    assert item.state == ReviewState.ANNOTATING


def test_an_annotation_after_the_round_was_decided_changes_nothing() -> None:
    item, ctx = new_item(), context(policy())
    annotate(item, ctx, UNANIMOUS)
    late = pipeline.add_submission(item, submission("dan", cls("dog")), 3, ctx)
    assert (late.events, late.scores) == ([], [])
    assert (item.state, classes(item.labels), len(item.submissions)) == (
        ReviewState.COMPLETED,
        ["cat"],
        3,
    )


def test_a_unanimous_round_completes_and_scores_every_annotation() -> None:
    item, ctx = new_item(), context(policy())
    fx = annotate(item, ctx, UNANIMOUS)
    completed = only(fx, ItemCompleted)
    assert (classes(completed.labels), completed.agreement, completed.policy_version) == (
        ["cat"],
        1.0,
        3,
    )
    assert completed.annotation_id in {"ann-ann-0", "ann-bob-0", "ann-cyd-0"}
    decided = of(fx, ReviewDecided)
    assert sorted(d.task_id for d in decided) == ["task-ann", "task-bob", "task-cyd"]
    assert {(d.decision, d.stage, d.agreement, d.has_agreement) for d in decided} == {
        (APPROVED, "consensus", 1.0, True)
    }
    assert [(s.reference, s.correct, s.agreement, s.gold) for s in fx.scores] == [
        ("final", True, 1.0, False)
    ] * 3
    assert fx.final_labels is not None and classes(fx.final_labels) == ["cat"]
    assert (item.source, item.agreement) == ("consensus", 1.0)


def test_the_minority_annotation_is_overruled_and_its_task_stays_open() -> None:
    item, ctx = new_item(), context(policy())
    fx = annotate(item, ctx, MAJORITY)
    by_annotation = {d.annotation_id: d for d in of(fx, ReviewDecided)}
    assert by_annotation["ann-cyd-0"].decision == REJECTED
    assert by_annotation["ann-cyd-0"].task_id == ""
    assert by_annotation["ann-cyd-0"].reason.startswith("overruled: ")
    assert by_annotation["ann-ann-0"].decision == APPROVED
    assert {s.annotator: s.correct for s in fx.scores} == {"ann": True, "bob": True, "cyd": False}
    assert only(fx, ItemCompleted).agreement == pytest.approx(2 / 3)


def test_vote_weights_come_from_the_context() -> None:
    item = new_item()
    ctx = context(policy(), weights={"cyd": 5.0})
    fx = annotate(item, ctx, MAJORITY)
    assert classes(only(fx, ItemCompleted).labels) == ["dog"]


# --- adjudication ------------------------------------------------------------------------------


def test_low_consensus_goes_to_adjudication() -> None:
    item, ctx = new_item(), context(policy(adjudicator_role="manager"))
    fx = annotate(item, ctx, SPLIT)
    requested = only(fx, AdjudicationRequested)
    assert [(c.annotator, classes(c.labels)) for c in requested.candidates] == [
        ("ann", ["ant"]),
        ("bob", ["bee"]),
        ("cyd", ["cat"]),
    ]
    assert requested.agreement == pytest.approx(1 / 3)
    assert requested.reason == "consensus 0.33 is below 0.60"
    assert (requested.role, requested.round) == ("manager", 0)
    assert classes(requested.consensus) == ["ant"]  # the tie's winner, offered as a start
    [task] = fx.tasks
    assert (task.kind, task.role, task.review_task_id, task.annotators) == (
        "adjudication",
        "manager",
        requested.adjudication_id,
        ["ann", "bob", "cyd"],
    )
    assert (item.state, item.review_task_id) == (ReviewState.ADJUDICATION, task.review_task_id)
    assert "the annotators' vote was tied" in item.flags
    assert of(fx, ItemCompleted) == [] and fx.scores == []


def test_the_adjudicator_role_defaults_to_expert() -> None:
    fx = annotate(new_item(), context(policy()), SPLIT)
    assert only(fx, AdjudicationRequested).role == "expert"


def test_an_adjudication_completes_the_item_and_scores_against_its_labels() -> None:
    item, ctx = new_item(), context(policy())
    task_id = annotate(item, ctx, SPLIT).tasks[0].review_task_id
    fx = pipeline.decide_adjudication(item, task_id, [cls("bee")], "alice", "it is a bee")
    decided = only(fx, AdjudicationDecided)
    assert (decided.adjudication_id, decided.adjudicator, decided.reason) == (
        task_id,
        "alice",
        "it is a bee",
    )
    completed = only(fx, ItemCompleted)
    assert (completion(completed), classes(completed.labels), completed.annotation_id) == (
        ("adjudication", COMPLETION_SOURCE_ADJUDICATION),
        ["bee"],
        "ann-bob-0",
    )
    assert completed.agreement == pytest.approx(1 / 3)
    assert {s.annotator: (s.reference, s.correct, s.agreement) for s in fx.scores} == {
        "ann": ("final", False, 0.0),
        "bob": ("final", True, 1.0),
        "cyd": ("final", False, 0.0),
    }
    reviews = {d.annotation_id: d for d in of(fx, ReviewDecided)}
    assert (reviews["ann-bob-0"].decision, reviews["ann-bob-0"].task_id) == (APPROVED, "task-bob")
    assert reviews["ann-bob-0"].stage == "adjudication"
    assert reviews["ann-ann-0"].decision == REJECTED
    assert (item.state, item.source, item.review_task_id) == (
        ReviewState.COMPLETED,
        CompletionSource.ADJUDICATION,
        "",
    )
    assert fx.final_labels is not None and classes(fx.final_labels) == ["bee"]


def test_deciding_a_stale_task_is_a_conflict() -> None:
    item, ctx = new_item(), context(policy(stage("peer review")))
    task_id = annotate(item, ctx, UNANIMOUS).tasks[0].review_task_id
    with pytest.raises(Conflict):
        pipeline.decide_review(item, "another-task", True, "rita", "", ctx)
    with pytest.raises(Conflict):  # the item waits for a review, not an adjudication
        pipeline.decide_adjudication(item, task_id, [cls("cat")], "alice", "sure")
    pipeline.decide_review(item, task_id, True, "rita", "", ctx)
    with pytest.raises(Conflict):  # decided already
        pipeline.decide_review(item, task_id, True, "rita", "", ctx)

    split, split_ctx = new_item(), context(policy())
    adjudication_id = annotate(split, split_ctx, SPLIT).tasks[0].review_task_id
    with pytest.raises(Conflict):
        pipeline.decide_adjudication(split, "other", [cls("bee")], "alice", "bee")
    pipeline.decide_adjudication(split, adjudication_id, [cls("bee")], "alice", "bee")
    with pytest.raises(Conflict):
        pipeline.decide_adjudication(split, adjudication_id, [cls("ant")], "alice", "ant")


# --- auto-approval and stage coverage ----------------------------------------------------------


def test_high_agreement_auto_approves_past_every_stage() -> None:
    rules = policy(stage("peer review"), auto_approve=AutoApproveRules(min_agreement=0.9))
    item = new_item()
    fx = annotate(item, context(rules), UNANIMOUS)
    assert of(fx, ReviewRequested) == [] and fx.tasks == []
    assert completion(only(fx, ItemCompleted)) == ("consensus", COMPLETION_SOURCE_CONSENSUS)
    assert {d.reason for d in of(fx, ReviewDecided)} == {"auto-approved: agreement 1.00 meets 0.90"}

    below = annotate(new_item(), context(rules), MAJORITY)
    assert only(below, ReviewRequested).stage == "peer review"


def test_a_flagged_item_is_never_auto_approved() -> None:
    rules = policy(stage("peer review"), auto_approve=AutoApproveRules(min_agreement=0.5))
    item = new_item()
    fx = annotate(item, context(rules, flagged={"bob"}), UNANIMOUS)
    requested = only(fx, ReviewRequested)
    assert requested.reason == "flagged: annotator 'bob' is flagged"
    assert (item.state, item.stage_index) == (ReviewState.IN_REVIEW, 0)

    rules.consensus_threshold = 0.5
    tied = annotate(new_item(), context(rules), {"ann": cls("cat"), "bob": cls("dog")}, 2)
    assert only(tied, ReviewRequested).reason == "flagged: the annotators' vote was tied"


def test_matching_a_confident_model_auto_approves() -> None:
    rules = policy(stage("peer review"), auto_approve=AutoApproveRules(min_model_confidence=0.8))
    ctx = context(rules)
    sure, unsure = [cls("cat", 0.9)], [cls("cat", 0.7)]
    for suggestion, reviewed in ((sure, False), (unsure, True), ([cls("dog", 0.99)], True)):
        item = new_item()
        fx = Effects()
        for name in ("ann", "bob", "cyd"):
            fx = pipeline.add_submission(
                item, submission(name, cls("cat"), suggestion=suggestion), 3, ctx
            )
        assert bool(of(fx, ReviewRequested)) is reviewed, suggestion


def test_a_stage_covering_all_reviews_every_item() -> None:
    item, ctx = new_item(), context(policy(stage("peer review")))
    fx = annotate(item, ctx, UNANIMOUS)
    requested = only(fx, ReviewRequested)
    [task] = fx.tasks
    assert (requested.stage, requested.stage_index, requested.reason, requested.role) == (
        "peer review",
        0,
        "every item",
        "reviewer",
    )
    assert (requested.review_task_id, requested.agreement, classes(requested.labels)) == (
        task.review_task_id,
        1.0,
        ["cat"],
    )
    assert (task.kind, task.stage, task.stage_index, task.annotators) == (
        "review",
        "peer review",
        0,
        ["ann", "bob", "cyd"],
    )
    assert (item.state, item.review_task_id) == (ReviewState.IN_REVIEW, task.review_task_id)
    assert of(fx, ReviewDecided) == [] and fx.scores == []


def test_sampled_covers_about_the_fraction_and_is_fixed_per_item_and_stage() -> None:
    ids = [f"item-{n}" for n in range(2000)]
    for fraction in (0.1, 0.5, 0.9):
        chosen = [i for i in ids if pipeline.sampled(i, "spot check", fraction)]
        # Binomial(2000, f) lies within 4.5 standard deviations of its mean.
        assert abs(len(chosen) - 2000 * fraction) < 4.5 * (2000 * fraction * (1 - fraction)) ** 0.5
        assert chosen == [i for i in ids if pipeline.sampled(i, "spot check", fraction)]
    assert all(pipeline.sampled(i, "spot check", 1.0) for i in ids)
    small = {i for i in ids if pipeline.sampled(i, "spot check", 0.2)}
    large = {i for i in ids if pipeline.sampled(i, "spot check", 0.6)}
    assert small < large  # a larger fraction covers the same items and more
    other_stage = {i for i in ids if pipeline.sampled(i, "second look", 0.2)}
    assert small != other_stage


def test_a_fraction_stage_reviews_only_the_sampled_items() -> None:
    ctx = context(policy(stage("spot check", FRACTION, 0.3)))
    outcomes = {}
    for n in range(40):
        item = ItemState(f"item-{n}", "p1")
        annotate(item, ctx, UNANIMOUS)
        outcomes[item.item_id] = item.state
    for item_id, state in outcomes.items():
        sampled = pipeline.sampled(item_id, "spot check", 0.3)
        assert state == (ReviewState.IN_REVIEW if sampled else ReviewState.COMPLETED)
    assert set(outcomes.values()) == {ReviewState.IN_REVIEW, ReviewState.COMPLETED}


def test_a_flagged_stage_reviews_only_flagged_items() -> None:
    rules = policy(stage("expert check", FLAGGED))
    plain = new_item()
    fx = annotate(plain, context(rules), UNANIMOUS)
    assert plain.state == ReviewState.COMPLETED
    assert {d.reason for d in of(fx, ReviewDecided)} == {"no review stage applies"}
    flagged = new_item()
    fx = annotate(flagged, context(rules, flagged={"cyd"}), UNANIMOUS)
    assert only(fx, ReviewRequested).stage == "expert check"


def test_stages_that_do_not_cover_the_item_are_skipped() -> None:
    rules = policy(stage("expert check", FLAGGED), stage("peer review"))
    item = new_item()
    fx = annotate(item, context(rules), UNANIMOUS)
    requested = only(fx, ReviewRequested)
    assert (requested.stage, requested.stage_index, item.stage_index) == ("peer review", 1, 1)


# --- reviewers' decisions ----------------------------------------------------------------------


def test_approvals_walk_the_stages_then_complete() -> None:
    rules = policy(stage("peer review"), stage("expert check"))
    item, ctx = new_item(), context(rules)
    first = annotate(item, ctx, UNANIMOUS).tasks[0].review_task_id

    fx = pipeline.decide_review(item, first, True, "rita", "fine", ctx)
    decided = only(fx, ReviewDecided)
    assert (decided.decision, decided.reviewer, decided.stage, decided.review_task_id) == (
        APPROVED,
        "rita",
        "peer review",
        first,
    )
    assert (decided.annotation_id, decided.task_id, decided.round) == ("", "", 0)
    requested = only(fx, ReviewRequested)
    assert (requested.stage, requested.stage_index) == ("expert check", 1)
    assert of(fx, ItemCompleted) == [] and fx.final_labels is None

    fx = pipeline.decide_review(item, requested.review_task_id, True, "eve", "agreed", ctx)
    completed = only(fx, ItemCompleted)
    assert (completion(completed), classes(completed.labels)) == (
        ("consensus", COMPLETION_SOURCE_CONSENSUS),
        ["cat"],
    )
    per_annotation = [d for d in of(fx, ReviewDecided) if d.annotation_id]
    assert {(d.decision, d.reason) for d in per_annotation} == {
        (APPROVED, "approved at every stage")
    }
    assert item.state == ReviewState.COMPLETED and item.reviewed_by_person


def test_a_rejection_sends_the_round_back() -> None:
    item, ctx = new_item(), context(policy(stage("peer review")))
    task_id = annotate(item, ctx, UNANIMOUS).tasks[0].review_task_id
    fx = pipeline.decide_review(item, task_id, False, "rita", "it is a lynx", ctx)
    rework = [d for d in of(fx, ReviewDecided) if d.stage == "rework"]
    assert sorted((d.task_id, d.decision, d.round) for d in rework) == [
        ("task-ann", REJECTED, 0),
        ("task-bob", REJECTED, 0),
        ("task-cyd", REJECTED, 0),
    ]
    assert {d.reason for d in rework} == {"rejected at peer review by rita: it is a lynx"}
    reviewer = [d for d in of(fx, ReviewDecided) if d.reviewer]
    assert [(d.decision, d.review_task_id) for d in reviewer] == [(REJECTED, task_id)]
    assert (item.state, item.round, item.loops, item.submissions, item.labels) == (
        ReviewState.ANNOTATING,
        1,
        1,
        [],
        [],
    )
    assert fx.tasks == [] and fx.scores == []

    # The next round is a round like the first.
    again = annotate(item, ctx, UNANIMOUS)
    assert only(again, ReviewRequested).round == 1


def test_after_max_review_loops_a_rejection_goes_to_adjudication() -> None:
    item, ctx = new_item(), context(policy(stage("peer review"), max_review_loops=1))
    task_id = annotate(item, ctx, UNANIMOUS).tasks[0].review_task_id
    pipeline.decide_review(item, task_id, False, "rita", "no", ctx)
    task_id = annotate(item, ctx, UNANIMOUS).tasks[0].review_task_id
    fx = pipeline.decide_review(item, task_id, False, "rita", "still no", ctx)
    requested = only(fx, AdjudicationRequested)
    assert (
        requested.reason == "rejected at peer review by rita: still no; sent back 1 times already"
    )
    assert requested.round == 1
    assert [d for d in of(fx, ReviewDecided) if d.stage == "rework"] == []
    assert (item.state, item.round, item.loops) == (ReviewState.ADJUDICATION, 1, 1)


def test_max_review_loops_defaults_to_two() -> None:
    item, ctx = new_item(), context(policy(stage("peer review")))
    states = []
    for _ in range(3):
        task_id = annotate(item, ctx, UNANIMOUS).tasks[0].review_task_id
        pipeline.decide_review(item, task_id, False, "rita", "no", ctx)
        states.append(item.state)
    assert states == [ReviewState.ANNOTATING, ReviewState.ANNOTATING, ReviewState.ADJUDICATION]


# --- flagging by hand --------------------------------------------------------------------------


def test_flagging_a_completed_item_opens_a_review_at_the_first_stage() -> None:
    rules = policy(stage("spot check", FRACTION, 0.01), stage("expert check", FLAGGED))
    item, ctx = new_item(), context(rules)
    annotate(item, ctx, UNANIMOUS)
    assert item.state == ReviewState.COMPLETED
    fx, outcome = pipeline.flag_item(item, "looks wrong", "quinn", "ann-bob-0", ctx)
    flagged = only(fx, ItemFlagged)
    assert (flagged.reason, flagged.flagged_by, flagged.annotation_id) == (
        "looks wrong",
        "quinn",
        "ann-bob-0",
    )
    requested = only(fx, ReviewRequested)
    assert (requested.stage_index, requested.reason) == (0, "flagged: looks wrong")
    assert (outcome, item.state) == (Outcome.IN_REVIEW, ReviewState.IN_REVIEW)
    # Flagged, the item is reviewed at every later stage too.
    fx = pipeline.decide_review(item, requested.review_task_id, True, "rita", "", ctx)
    assert only(fx, ReviewRequested).stage == "expert check"


def test_flagging_a_completed_item_without_stages_sends_it_back() -> None:
    item, ctx = new_item(), context(policy())
    annotate(item, ctx, UNANIMOUS)
    fx, outcome = pipeline.flag_item(item, "looks wrong", "quinn", "", ctx)
    assert sorted(d.task_id for d in of(fx, ReviewDecided) if d.decision == REJECTED) == [
        "task-ann",
        "task-bob",
        "task-cyd",
    ]
    assert (outcome, item.state, item.round) == (Outcome.SENT_BACK, ReviewState.ANNOTATING, 1)


def test_flagging_an_item_still_being_annotated_routes_it_to_review_later() -> None:
    item, ctx = new_item(), context(policy(stage("expert check", FLAGGED)))
    annotate(item, ctx, {"ann": cls("cat")})
    fx, outcome = pipeline.flag_item(item, "suspicious", "quinn", "", ctx)
    assert [type(e) for e in fx.events] == [ItemFlagged]
    assert outcome == Outcome.ANNOTATING
    later = annotate(item, ctx, {"bob": cls("cat"), "cyd": cls("cat")})
    assert only(later, ReviewRequested).reason == "flagged: suspicious"


def test_a_gold_item_cannot_be_flagged() -> None:
    item = ItemState("gold-1", "p1", state=ReviewState.GOLD)
    with pytest.raises(Conflict):
        pipeline.flag_item(item, "why", "quinn", "", context(policy()))


# --- gold, model and single annotations --------------------------------------------------------


def test_gold_answers_are_only_scored() -> None:
    item = ItemState("gold-1", "p1", state=ReviewState.GOLD)
    right = pipeline.score_gold(item, submission("ann", cls("cat")), [cls("cat")])
    wrong = pipeline.score_gold(item, submission("bob", cls("dog")), [cls("cat")])
    assert [(s.reference, s.gold, s.correct, s.agreement) for s in right.scores + wrong.scores] == [
        ("gold", True, True, 1.0),
        ("gold", True, False, 0.0),
    ]
    assert [(d.decision, d.stage, d.task_id) for d in of(right, ReviewDecided)] == [
        (APPROVED, "gold", "")
    ]
    assert only(wrong, ReviewDecided).decision == REJECTED
    assert (item.state, item.submissions, right.tasks, right.final_labels) == (
        ReviewState.GOLD,
        [],
        [],
        None,
    )
    scored = pipeline.quality_scored(right.scores[0])
    assert (scored.gold, scored.gold_correct, scored.seconds_spent) == (True, True, 12.0)
    assert (scored.reference, scored.score_reference) == ("gold", SCORE_REFERENCE_GOLD)
    assert pipeline.quality_scored(wrong.scores[0]).gold_correct is False


def test_a_gold_box_counts_as_correct_from_an_iou_of_one_half() -> None:
    item = ItemState("gold-1", "p1", state=ReviewState.GOLD)
    close = pipeline.score_gold(item, submission("ann", box(2, 0)), [box(0, 0)])
    far = pipeline.score_gold(item, submission("bob", box(6, 0)), [box(0, 0)])
    assert close.scores[0].correct and close.scores[0].agreement == pytest.approx(8 / 12)
    assert far.scores[0].correct is False


def test_a_model_label_is_final_at_once() -> None:
    item = new_item()
    fx = pipeline.complete_by_model(item, "ann-model", [cls("cat", 0.97)], 0.9)
    completed = only(fx, ItemCompleted)
    assert completion(completed) == ("model", COMPLETION_SOURCE_MODEL)
    assert (completed.annotation_id, classes(completed.labels)) == ("ann-model", ["cat"])
    decided = only(fx, ReviewDecided)
    assert (decided.decision, decided.stage) == (APPROVED, "auto-annotation")
    assert decided.quality_score == pytest.approx(0.97)
    assert (item.state, item.source) == (ReviewState.COMPLETED, CompletionSource.MODEL)


def test_a_single_annotation_far_from_the_suggestion_is_sent_back() -> None:
    item = new_item()
    ctx = context(ReviewPolicy(), with_model=0.8)
    fx = pipeline.add_submission(
        item, submission("ann", cls("dog"), suggestion=[cls("cat", 0.7)]), 1, ctx
    )
    decided = only(fx, ReviewDecided)
    assert (decided.decision, decided.task_id, decided.round, decided.stage) == (
        REJECTED,
        "task-ann",
        0,
        "rework",
    )
    assert decided.reason == "agreement 0.00 with the suggestion is below 0.80"
    assert (item.state, item.round) == (ReviewState.ANNOTATING, 1)


def test_a_single_annotation_without_stages_completes_against_the_suggestion() -> None:
    ctx = context(ReviewPolicy(), with_model=0.5)
    item = new_item()
    fx = pipeline.add_submission(
        item, submission("ann", cls("cat"), suggestion=[cls("cat", 0.7)]), 1, ctx
    )
    completed = only(fx, ItemCompleted)
    assert (completion(completed), classes(completed.labels)) == (
        ("human", COMPLETION_SOURCE_HUMAN),
        ["cat"],
    )
    assert completed.agreement == 0.0  # unset: one annotator has no agreement with others
    [score] = fx.scores
    assert (score.reference, score.correct, score.agreement) == ("suggestion", None, 1.0)
    assert only(fx, ReviewDecided).task_id == "task-ann"

    bare = pipeline.add_submission(new_item(), submission("bob", cls("cat")), 1, ctx)
    [score] = bare.scores
    assert (score.reference, score.correct, score.agreement) == ("suggestion", None, 1.0)
    assert only(bare, ReviewDecided).has_agreement is False


def test_a_single_annotation_a_person_reviewed_is_scored_against_the_final_labels() -> None:
    rules = ReviewPolicy(stages=[stage("peer review")])
    item, ctx = new_item(), context(rules)
    fx = pipeline.add_submission(item, submission("ann", cls("cat")), 1, ctx)
    fx = pipeline.decide_review(item, fx.tasks[0].review_task_id, True, "rita", "", ctx)
    [score] = fx.scores
    assert (score.reference, score.correct) == (ScoreReference.FINAL, True)
    assert completion(only(fx, ItemCompleted)) == ("human", COMPLETION_SOURCE_HUMAN)


# --- other kinds of label ----------------------------------------------------------------------


def test_a_round_of_transcriptions_completes_and_scores_by_word_error_rate() -> None:
    item, ctx = new_item(), context(policy())
    said = {
        "ann": "the cat sat on the mat",
        "bob": "the cat sat on the mat",
        "cyd": "the cat sat on a mat",
    }
    fx = annotate(
        item, ctx, {k: Label(transcription=Transcription(text=v)) for k, v in said.items()}
    )
    assert [label.transcription.text for label in only(fx, ItemCompleted).labels] == [said["ann"]]
    scores = {s.annotator: s for s in fx.scores}
    assert scores["ann"].agreement == 1.0
    assert scores["cyd"].agreement == pytest.approx(5 / 6)


def test_an_annotation_far_from_the_final_polygon_scores_low() -> None:
    def square(x: float) -> Label:
        corners = [(x, 0), (x + 10, 0), (x + 10, 10), (x, 10)]
        return Label(polygon=Polygon(label="lake", points=[Point(x=a, y=b) for a, b in corners]))

    item, ctx = new_item(), context(policy(consensus_threshold=0.2))
    fx = annotate(item, ctx, {"ann": square(0), "bob": square(1), "cyd": square(40)})
    scores = {s.annotator: s for s in fx.scores}
    assert scores["cyd"].agreement == 0.0 and scores["cyd"].correct is False
    assert scores["bob"].agreement == pytest.approx(90 / 110)


def test_an_annotation_far_from_the_final_segment_scores_low() -> None:
    def segment(start: float) -> Label:
        return Label(
            time_segment=TimeSegment(label="speech", start_seconds=start, end_seconds=start + 2)
        )

    item, ctx = new_item(), context(policy(consensus_threshold=0.1))
    fx = annotate(item, ctx, {"ann": segment(0), "bob": segment(0.5), "cyd": segment(30)})
    [final] = only(fx, ItemCompleted).labels
    assert (final.time_segment.start_seconds, final.time_segment.end_seconds) == (0.25, 2.25)
    scores = {s.annotator: s for s in fx.scores}
    assert scores["cyd"].agreement == 0.0 and scores["cyd"].correct is False
    assert scores["ann"].agreement == pytest.approx(1.75 / 2.25)


# --- settling reviewers' decisions -------------------------------------------------------------


def test_settle_compares_each_decision_with_the_final_labels() -> None:
    final = [cls("cat")]
    assert pipeline.settle(
        [
            (True, [cls("cat")]),  # approved what became final
            (True, [cls("dog")]),  # approved what was replaced
            (False, [cls("dog")]),  # rejected what was replaced
            (False, [cls("cat")]),  # rejected what became final
        ],
        final,
    ) == [True, False, True, False]
    assert pipeline.settle([(True, [box(0, 0)])], [box(1, 0)]) == [False]  # close is not equal
    assert pipeline.settle([(True, []), (False, [cls("cat")])], []) == [True, True]
    assert pipeline.settle([], final) == []


def test_an_annotation_of_an_earlier_round_does_not_count_in_the_next() -> None:
    item, ctx = new_item(), context(policy(stage("peer review")))
    task_id = annotate(item, ctx, UNANIMOUS).tasks[0].review_task_id
    pipeline.decide_review(item, task_id, False, "rita", "redo", ctx)
    late = pipeline.add_submission(item, submission("dee", UNANIMOUS["ann"], round_=0), 3, ctx)
    assert (late.events, item.submissions, item.round) == ([], [], 1)
