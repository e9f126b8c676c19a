"""The review pipeline against the real broker and database, driven over REST and gRPC:
consensus, adjudication, review stages, gold items, flagged annotators and reports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import grpc
import httpx
import pytest
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from labelmesh.core.config import CoreSettings
from labelmesh.core.envelopes import new_envelope, payload_of, user_actor
from labelmesh.core.outbox import stored_events
from labelmesh.core.runner import ServiceDefinition
from labelmesh.devstack.processes import free_port
from labelmesh.review.app import build
from labelmesh.review.config import ReviewSettings
from labelmesh.testing.access import (
    SessionAccess,
    bearer,
    session_interceptors,
    session_signer,
)
from labelmesh.testing.services import eventually, service_settings, serving
from labelmesh.testing.twins.review import EXPERTS, POLICY, PROJECT, ReviewOnTwins, cls
from labelmesh.v1 import review_service_pb2 as pb
from labelmesh.v1.events_pb2 import (
    COMPLETION_SOURCE_ADJUDICATION,
    COMPLETION_SOURCE_CONSENSUS,
    SCORE_REFERENCE_FINAL,
    AdjudicationDecided,
    AdjudicationRequested,
    AnnotatorFlagged,
    DataType,
    Envelope,
    GoldStandardSet,
    ItemCompleted,
    ItemFlagged,
    ProjectCreated,
    ProjectSpec,
    QualityScored,
    ReviewCoverage,
    ReviewDecided,
    ReviewDecision,
    ReviewPolicy,
    ReviewPolicyConfigured,
    ReviewRequested,
    Role,
)
from labelmesh.v1.geometry_pb2 import Label
from labelmesh.v1.review_service_pb2_grpc import ReviewServiceStub

pytestmark = pytest.mark.integration
M = TypeVar("M", bound=Message)

CLASSES = ["ant", "bee", "cat", "dog"]


def cls_json(name: str) -> dict[str, Any]:
    return {"classification": {"label": name}, "confidence": 1.0}


def approval(reviewer: str, label: str, reason: str = "x") -> dict[str, Any]:
    """The REST body of a decision approving with one label."""
    return {
        "reviewer": reviewer,
        "decision": "APPROVED",
        "reason": reason,
        "labels": [cls_json(label)],
    }


submitted = ReviewOnTwins.submitted


async def decide(
    stub: ReviewServiceStub,
    task_id: str,
    reviewer: str,
    decision: ReviewDecision = ReviewDecision.REVIEW_DECISION_UNSPECIFIED,
    reason: str = "",
    labels: Sequence[Label] = (),
) -> pb.DecideReviewTaskResponse:
    """A reviewer's decision on a review task, over gRPC."""
    request = pb.DecideReviewTaskRequest(
        review_task_id=task_id, reviewer=reviewer, decision=decision, reason=reason, labels=labels
    )
    response: pb.DecideReviewTaskResponse = await stub.DecideReviewTask(request)
    return response


def policy_json(policy: ReviewPolicy) -> dict[str, Any]:
    as_json: dict[str, Any] = MessageToDict(policy, preserving_proto_field_name=True)
    return as_json


@dataclass
class Running:
    service: ServiceDefinition
    http: httpx.AsyncClient
    grpc: ReviewServiceStub
    access: SessionAccess

    async def signed_as(self, subject: str) -> dict[str, str]:
        """The headers of a request made by `subject`, an admin."""
        return bearer(await self.access.credential(subject, Role.ROLE_ADMIN))

    async def publish(self, *envelopes: Envelope) -> None:
        await self.service.platform.publisher.publish(list(envelopes))

    async def outbox(self, kind: type[M], key: str) -> list[M]:
        """The payloads of one type the service emitted for one item or project, in order."""
        stored = await stored_events(self.service.platform.db, kind.DESCRIPTOR.full_name, key)
        return [p for p in map(payload_of, stored) if isinstance(p, kind)]

    async def item(self, item_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/v1/items/{item_id}/reviews")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def wait_for_state(self, item_id: str, state: str) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        async def reached() -> bool:
            seen.update(await self.item(item_id))
            return bool(seen["state"] == state)

        await eventually(reached, what=f"{item_id} to be {state}")
        assert seen["review_state"] == f"REVIEW_STATE_{state.upper()}"  # the enum says the same
        return seen

    async def report(self, name: str, **params: str) -> dict[str, Any]:
        response = await self.http.get(f"/v1/projects/{PROJECT}/reports/{name}", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def next_task(self, reviewer: str) -> httpx.Response:
        return await self.http.post(
            f"/v1/projects/{PROJECT}/review-tasks/next", json={"reviewer": reviewer}
        )


@pytest.fixture
async def review(
    core_settings: CoreSettings, access_service: SessionAccess
) -> AsyncIterator[Running]:
    """The review service in-process, with project p1 and its review policy known."""
    settings = service_settings(
        ReviewSettings, core_settings, rest_port=free_port(), grpc_port=free_port()
    )
    service = build(settings)
    project = ProjectSpec(
        project_id=PROJECT,
        name="animals",
        data_type=DataType.DATA_TYPE_TEXT,
        classes=CLASSES,
        review_policy=POLICY,
    )
    async with (
        serving(service),
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.rest_port}",
            event_hooks={"request": [session_signer(access_service)]},
        ) as http,
        grpc.aio.insecure_channel(
            f"127.0.0.1:{settings.grpc_port}", interceptors=session_interceptors(access_service)
        ) as channel,
    ):
        stub = ReviewServiceStub(channel)  # type: ignore[no-untyped-call]
        running = Running(service, http, stub, access_service)
        await running.publish(
            new_envelope(
                ProjectCreated(project=project),
                producer="annotation",
                actor=user_actor("olga"),
                project_id=PROJECT,
            ),
            *[ReviewOnTwins.membership_changed(expert, Role.ROLE_EXPERT) for expert in EXPERTS],
        )

        async def project_and_experts_known() -> bool:
            try:
                response = await http.get(f"/v1/projects/{PROJECT}/review-policy")
            except httpx.TransportError:  # the REST server is still binding its port
                return False
            if response.status_code != 200:
                return False
            members = response.json()["policy"].get("members", [])
            return [(m["user"], m["roles"]) for m in members] == [
                (expert, ["expert"]) for expert in EXPERTS
            ]

        await eventually(project_and_experts_known, what="project p1 and its experts")
        yield running


async def test_consensus_adjudication_review_and_reports(review: Running) -> None:
    policy = (await review.http.get(f"/v1/projects/{PROJECT}/review-policy")).json()["policy"]
    assert (policy["version"], policy["overlap"], policy["stages"][0]["name"]) == (
        1,
        3,
        "expert check",
    )
    unanimous = [submitted("item-1", who, "cat") for who in ("ann", "ben", "cyd")]
    split = [
        submitted("item-2", who, label)
        for who, label in zip(("ann", "ben", "cyd"), ("ant", "bee", "cat"), strict=True)
    ]
    # The first annotation comes twice in one fetch and once more later: one effect.
    await review.publish(unanimous[0], unanimous[0], *split)
    await review.publish(unanimous[1], unanimous[0], unanimous[2])

    item = await review.wait_for_state("item-1", "completed")
    assert item["completed"] is True
    assert [label["classification"]["label"] for label in item["final_labels"]] == ["cat"]
    assert sorted((r["annotation_id"], r["decision"]) for r in item["reviews"]) == [
        ("item-1:ann:0", "REVIEW_DECISION_APPROVED"),
        ("item-1:ben:0", "REVIEW_DECISION_APPROVED"),
        ("item-1:cyd:0", "REVIEW_DECISION_APPROVED"),
    ]
    assert {r["task_id"] for r in item["reviews"]} == {
        "task:item-1:ann",
        "task:item-1:ben",
        "task:item-1:cyd",
    }
    scored = await review.outbox(QualityScored, "item-1")
    assert sorted((s.annotator, s.reference, s.score_reference, s.score) for s in scored) == [
        ("ann", "final", SCORE_REFERENCE_FINAL, 1.0),
        ("ben", "final", SCORE_REFERENCE_FINAL, 1.0),
        ("cyd", "final", SCORE_REFERENCE_FINAL, 1.0),
    ]
    [completed] = await review.outbox(ItemCompleted, "item-1")
    assert (
        completed.source,
        completed.completion_source,
        completed.agreement,
        completed.policy_version,
    ) == ("consensus", COMPLETION_SOURCE_CONSENSUS, 1.0, 1)
    assert len(await review.outbox(ReviewDecided, "item-1")) == 3

    # A 1/1/1 split goes to the adjudicators: alice and bob hold the "expert" role.
    item = await review.wait_for_state("item-2", "adjudication")
    [requested] = await review.outbox(AdjudicationRequested, "item-2")
    assert requested.role == "expert" and len(requested.candidates) == 3
    refused = await review.next_task("ann")
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "reviewer"

    taken = await review.next_task("alice")
    assert taken.status_code == 200, taken.text
    task = taken.json()["task"]
    assert (task["item_id"], task["kind"], task["stage"], task["status"], task["assignee"]) == (
        "item-2",
        "adjudication",
        "adjudication",
        "assigned",
        "alice",
    )
    assert (task["task_kind"], task["task_status"]) == (
        "REVIEW_TASK_KIND_ADJUDICATION",
        "REVIEW_TASK_STATUS_ASSIGNED",
    )
    assert task["review_task_id"] == requested.adjudication_id
    assert sorted(c["annotator"] for c in task["candidates"]) == ["ann", "ben", "cyd"]
    assert (await review.next_task("alice")).json()["task"]["review_task_id"] == task[
        "review_task_id"
    ]
    assert (await review.next_task("bob")).status_code == 204

    decision_url = f"/v1/review-tasks/{task['review_task_id']}/decision"
    by_bob = await review.http.post(decision_url, json=approval("bob", "bee"))
    assert by_bob.status_code == 409
    without_reason = await review.http.post(
        decision_url,
        json={"reviewer": "alice", "decision": "APPROVED", "labels": [cls_json("bee")]},
    )
    assert without_reason.status_code == 422
    assert without_reason.json()["detail"][0]["field"] == "reason"
    unknown_class = await review.http.post(decision_url, json=approval("alice", "owl"))
    assert unknown_class.json()["detail"][0]["field"] == "labels[0].classification.label"
    decided = await review.http.post(
        decision_url, json=approval("alice", "bee", "the text is about bees")
    )
    assert decided.status_code == 200, decided.text
    assert decided.json() == {"outcome": "completed", "review_outcome": "REVIEW_OUTCOME_COMPLETED"}
    again = await review.http.post(decision_url, json=approval("alice", "ant"))
    assert again.status_code == 409

    item = await review.item("item-2")
    assert (
        item["state"],
        item["review_state"],
        [label["classification"]["label"] for label in item["final_labels"]],
    ) == (
        "completed",
        "REVIEW_STATE_COMPLETED",
        ["bee"],
    )
    [adjudicated] = await review.outbox(AdjudicationDecided, "item-2")
    assert (adjudicated.adjudicator, adjudicated.reason) == ("alice", "the text is about bees")
    [completed] = await review.outbox(ItemCompleted, "item-2")
    assert (completed.source, completed.completion_source, completed.annotation_id) == (
        "adjudication",
        COMPLETION_SOURCE_ADJUDICATION,
        "item-2:ben:0",
    )
    scores = {s.annotator: s.score for s in await review.outbox(QualityScored, "item-2")}
    assert scores == {"ann": 0.0, "ben": 1.0, "cyd": 0.0}

    # Flagged by hand, the completed item-1 goes to the "expert check" stage.
    flagged = await review.http.post(
        "/v1/items/item-1/flag",
        json={"reason": "a lynx, surely"},
        headers=await review.signed_as("quinn"),
    )
    assert flagged.json() == {"outcome": "in_review", "review_outcome": "REVIEW_OUTCOME_IN_REVIEW"}
    [item_flagged] = await review.outbox(ItemFlagged, "item-1")
    assert item_flagged.flagged_by == "quinn"
    review_task = (await review.next_task("bob")).json()["task"]
    assert (review_task["item_id"], review_task["kind"], review_task["stage"]) == (
        "item-1",
        "review",
        "expert check",
    )
    approved = await review.http.post(
        f"/v1/review-tasks/{review_task['review_task_id']}/decision",
        json={"reviewer": "bob", "decision": "APPROVED"},
    )
    assert approved.json() == {"outcome": "completed", "review_outcome": "REVIEW_OUTCOME_COMPLETED"}

    # Reports: every annotation scored, both reviewers settled, agreement on two items.
    annotations = (await review.report("annotations"))["scores"]
    assert len(annotations) == 6
    assert {s["item_id"] for s in annotations} == {"item-1", "item-2"}
    assert [
        s["item_id"] for s in (await review.report("annotations", annotator="ben"))["scores"]
    ] == [
        "item-2",
        "item-1",
    ]
    annotators = {a["annotator"]: a for a in (await review.report("annotators"))["annotators"]}
    assert (annotators["ben"]["annotations"], annotators["ben"]["accuracy"]) == (2, 1.0)
    assert (annotators["ann"]["accuracy"], annotators["ann"]["flagged"]) == (0.5, False)
    assert annotators["ann"]["median_seconds_per_item"] == 30.0
    reviewers = {r["reviewer"]: r for r in (await review.report("reviewers"))["reviewers"]}
    assert reviewers["alice"] == {
        "reviewer": "alice",
        "decisions": 1,
        "settled": 1,
        "match_rate": 1.0,
        "overturn_rate": 0.0,
        "approved": 1,
    }
    assert (reviewers["bob"]["settled"], reviewers["bob"]["match_rate"]) == (1, 1.0)
    assert [
        r["reviewer"] for r in (await review.report("reviewers", reviewer="bob"))["reviewers"]
    ] == ["bob"]
    agreement = await review.report("agreement")
    assert agreement["items"] == 2
    assert {
        (p["annotator_a"], p["annotator_b"], p["shared_items"]) for p in agreement["pairs"]
    } == {
        ("ann", "ben", 2),
        ("ann", "cyd", 2),
        ("ben", "cyd", 2),
    }
    assert {c["label"] for c in agreement["classes"]} == {"ant", "bee", "cat"}

    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await review.report("annotations", since=future))["scores"] == []
    assert (await review.report("annotators", since=future))["annotators"] == []
    assert (await review.report("reviewers", since=future))["reviewers"] == []
    assert (await review.report("agreement", since=future))["items"] == 0
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (await review.report("annotations", until=past))["scores"] == []

    # The repeated annotation had one effect.
    db = review.service.platform.db
    assert await db["annotations"].count_documents({"item_id": "item-1"}) == 3
    assert len(await review.outbox(AdjudicationRequested, "item-2")) == 1


async def test_policy_gold_and_flagged_annotators(review: Running) -> None:
    # ann, ben and mallory agree on item-9 before mallory is found out.
    await review.publish(*[submitted("item-9", who, "cat") for who in ("ann", "ben", "mallory")])
    await review.wait_for_state("item-9", "completed")

    rules = ReviewPolicy()
    rules.CopyFrom(POLICY)
    rules.flag_below_accuracy, rules.min_gold_answers, rules.recheck_recent = 0.7, 10, 1
    url = f"/v1/projects/{PROJECT}/review-policy"
    configured = await review.http.put(
        url, json=policy_json(rules), headers=await review.signed_as("olga")
    )
    assert configured.status_code == 200, configured.text
    configured_policy = configured.json()["policy"]
    assert (configured_policy["version"], configured_policy["flag_below_accuracy"]) == (2, 0.7)
    [announced] = await review.outbox(ReviewPolicyConfigured, PROJECT)
    assert announced.policy.version == 2 and announced.policy.recheck_recent == 1

    bad = policy_json(rules) | {"consensus_threshold": 1.5}
    refused = await review.http.put(url, json=bad)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["field"] == "policy.consensus_threshold"
    both = policy_json(rules)
    both["stages"][0]["team"] = "qa"
    refused = await review.http.put(url, json=both)
    assert refused.json()["detail"][0]["field"] == "policy.stages[0].role"
    malformed = await review.http.put(url, json={"overlap": "three"})
    assert (malformed.status_code, malformed.json()["detail"][0]["field"]) == (422, "policy")
    assert (await review.http.get(url)).json()["policy"]["version"] == 2

    gold_ids = [f"gold-{n}" for n in range(20)]
    response = await review.http.post(
        f"/v1/projects/{PROJECT}/gold",
        json={
            "items": [
                {"item_id": "gold-bad", "labels": [cls_json("zebra")]},
                *({"item_id": i, "labels": [cls_json("cat")]} for i in gold_ids),
            ]
        },
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results[0] == {
        "item_id": "gold-bad",
        "ok": False,
        "field": "items[0].labels[0].classification.label",
        "reason": "'zebra' is not a class",
    }
    assert all(r["ok"] for r in results[1:]) and len(results) == 21
    assert len(await review.outbox(GoldStandardSet, "gold-0")) == 1
    assert await review.outbox(GoldStandardSet, "gold-bad") == []

    # grace answers every gold item right; mallory only 5 of 20.
    await review.publish(*[submitted(i, "grace", "cat") for i in gold_ids])
    await review.publish(
        *[submitted(i, "mallory", "cat" if n < 5 else "dog") for n, i in enumerate(gold_ids)]
    )

    async def gold_counted() -> bool:
        stats = (await review.report("annotators"))["annotators"]
        return {a["annotator"]: a["gold_answers"] for a in stats} == {
            "ann": 0,
            "ben": 0,
            "grace": 20,
            "mallory": 20,
        }

    await eventually(gold_counted, what="every gold answer scored")
    stats = {a["annotator"]: a for a in (await review.report("annotators"))["annotators"]}
    assert (stats["grace"]["gold_accuracy"], stats["grace"]["flagged"]) == (1.0, False)
    assert (stats["mallory"]["gold_accuracy"], stats["mallory"]["flagged"]) == (0.25, True)
    assert stats["mallory"]["gold_accuracy_high"] < 0.7 < stats["grace"]["gold_accuracy_low"]
    [flag] = await review.outbox(AnnotatorFlagged, PROJECT)
    assert (flag.annotator, flag.threshold, list(flag.rechecked_item_ids)) == (
        "mallory",
        0.7,
        ["item-9"],
    )

    gold_item = await review.item("gold-3")
    assert (gold_item["state"], gold_item["review_state"]) == ("gold", "REVIEW_STATE_GOLD")
    assert sorted((r["stage"], r["decision"]) for r in gold_item["reviews"]) == [
        ("gold", "REVIEW_DECISION_APPROVED"),
        ("gold", "REVIEW_DECISION_APPROVED"),
    ]
    gold_scores = await review.outbox(QualityScored, "gold-7")
    assert sorted((s.annotator, s.gold, s.gold_correct) for s in gold_scores) == [
        ("grace", True, True),
        ("mallory", True, False),
    ]

    # mallory's latest item goes back to the experts, and so does their next one.
    rechecked = await review.item("item-9")
    assert rechecked["state"] == "in_review"
    [requested] = await review.outbox(ReviewRequested, "item-9")
    assert requested.reason == "flagged: annotator 'mallory' was flagged"
    await review.publish(*[submitted("item-10", who, "cat") for who in ("ann", "ben", "mallory")])
    await review.wait_for_state("item-10", "in_review")


async def test_the_same_flows_over_grpc(review: Running) -> None:
    stub = review.grpc
    rules = ReviewPolicy()
    rules.CopyFrom(POLICY)
    rules.stages[0].coverage = ReviewCoverage.REVIEW_COVERAGE_ALL
    configured = await stub.ConfigureReviewPolicy(
        pb.ConfigureReviewPolicyRequest(project_id=PROJECT, policy=rules, user="olga")
    )
    assert configured.policy.version == 2
    current = await stub.GetReviewPolicy(pb.GetReviewPolicyRequest(project_id=PROJECT))
    assert current.policy.stages[0].coverage == ReviewCoverage.REVIEW_COVERAGE_ALL
    rules.consensus_threshold = -0.1
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.ConfigureReviewPolicy(
            pb.ConfigureReviewPolicyRequest(project_id=PROJECT, policy=rules)
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (refused.value.details() or "").startswith("policy.consensus_threshold: ")

    await review.publish(
        *[
            submitted("item-3", who, label)
            for who, label in (("ann", "ant"), ("ben", "bee"), ("cyd", "cat"))
        ],
    )
    await review.wait_for_state("item-3", "adjudication")
    await review.publish(*[submitted("item-4", who, "dog") for who in ("ann", "ben", "cyd")])
    await review.wait_for_state("item-4", "in_review")

    # The adjudication is the older task, so alice gets it; bob the review.
    adjudication = (
        await stub.NextReviewTask(pb.NextReviewTaskRequest(project_id=PROJECT, reviewer="alice"))
    ).task
    assert (adjudication.item_id, adjudication.kind, adjudication.task_kind) == (
        "item-3",
        "adjudication",
        pb.REVIEW_TASK_KIND_ADJUDICATION,
    )
    decided = await decide(
        stub,
        adjudication.review_task_id,
        "alice",
        ReviewDecision.REVIEW_DECISION_APPROVED,
        "ants, plainly",
        [cls("ant")],
    )
    assert (decided.outcome, decided.review_outcome) == ("completed", pb.REVIEW_OUTCOME_COMPLETED)
    status = await stub.GetItemReviews(pb.GetItemReviewsRequest(item_id="item-3"))
    assert (status.completed, status.state, status.review_state, list(status.final_labels)) == (
        True,
        "completed",
        pb.REVIEW_STATE_COMPLETED,
        [cls("ant")],
    )

    task = (
        await stub.NextReviewTask(pb.NextReviewTaskRequest(project_id=PROJECT, reviewer="bob"))
    ).task
    assert (task.item_id, task.kind, task.stage, task.assignee) == (
        "item-4",
        "review",
        "expert check",
        "bob",
    )
    assert (task.task_kind, task.status, task.task_status) == (
        pb.REVIEW_TASK_KIND_REVIEW,
        "assigned",
        pb.REVIEW_TASK_STATUS_ASSIGNED,
    )
    with pytest.raises(grpc.aio.AioRpcError) as unspecified:
        await decide(stub, task.review_task_id, "bob")
    assert unspecified.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as reasonless:
        await decide(stub, task.review_task_id, "bob", ReviewDecision.REVIEW_DECISION_REJECTED)
    assert (reasonless.value.details() or "").startswith("reason: ")
    rejected = await decide(
        stub,
        task.review_task_id,
        "bob",
        ReviewDecision.REVIEW_DECISION_REJECTED,
        "these are wolves",
    )
    assert (rejected.outcome, rejected.review_outcome) == ("sent_back", pb.REVIEW_OUTCOME_SENT_BACK)
    rework = [d for d in await review.outbox(ReviewDecided, "item-4") if d.stage == "rework"]
    assert sorted((d.task_id, d.round, d.decision) for d in rework) == [
        ("task:item-4:ann", 0, ReviewDecision.REVIEW_DECISION_REJECTED),
        ("task:item-4:ben", 0, ReviewDecision.REVIEW_DECISION_REJECTED),
        ("task:item-4:cyd", 0, ReviewDecision.REVIEW_DECISION_REJECTED),
    ]
    status = await stub.GetItemReviews(pb.GetItemReviewsRequest(item_id="item-4"))
    assert (status.state, status.review_state) == ("annotating", pb.REVIEW_STATE_ANNOTATING)

    # The reworked round is reviewed again and approved.
    await review.publish(
        *[submitted("item-4", who, "dog", round_=1) for who in ("ann", "ben", "cyd")]
    )
    await review.wait_for_state("item-4", "in_review")
    task = (
        await stub.NextReviewTask(pb.NextReviewTaskRequest(project_id=PROJECT, reviewer="bob"))
    ).task
    decided = await decide(
        stub, task.review_task_id, "bob", ReviewDecision.REVIEW_DECISION_APPROVED
    )
    assert (decided.outcome, decided.review_outcome) == ("completed", pb.REVIEW_OUTCOME_COMPLETED)
    nothing = await stub.NextReviewTask(
        pb.NextReviewTaskRequest(project_id=PROJECT, reviewer="bob")
    )
    assert not nothing.HasField("task")

    report = await stub.GetAnnotatorReport(
        pb.GetAnnotatorReportRequest(scope=pb.ReportScope(project_id=PROJECT))
    )
    by_annotator = {a.annotator: a for a in report.annotators}
    assert sorted(by_annotator) == ["ann", "ben", "cyd"]
    assert (by_annotator["ann"].annotations, by_annotator["ann"].accuracy) == (2, 1.0)
    assert by_annotator["ben"].accuracy == 0.5
    assert not any(a.flagged for a in report.annotators)
    mine = await stub.GetAnnotatorReport(
        pb.GetAnnotatorReportRequest(scope=pb.ReportScope(project_id=PROJECT, user="cyd"))
    )
    assert [a.annotator for a in mine.annotators] == ["cyd"]
    later = pb.ReportScope(project_id=PROJECT)
    later.since.FromDatetime(datetime.now(UTC) + timedelta(hours=1))
    empty = await stub.GetAnnotatorReport(pb.GetAnnotatorReportRequest(scope=later))
    assert list(empty.annotators) == []
    reviewers = await stub.GetReviewerReport(
        pb.GetReviewerReportRequest(scope=pb.ReportScope(project_id=PROJECT))
    )
    bob = next(r for r in reviewers.reviewers if r.reviewer == "bob")
    # bob rejected the first round and approved the second: both settle against "dog".
    assert (bob.decisions, bob.settled, bob.approved) == (2, 2, 1)
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await stub.GetAnnotatorReport(
            pb.GetAnnotatorReportRequest(scope=pb.ReportScope(project_id="nope"))
        )
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
