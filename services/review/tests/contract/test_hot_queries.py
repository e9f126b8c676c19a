"""Every query an AnnotationSubmitted takes through the review service, and a
reviewer's current task, stays answered by an index as its collection grows from
1,000 to 20,000 documents (SecantusDB's explain, executionStats).

Each test runs the repository's own method, records the finds it sends, and has
the server explain those same finds at both sizes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document, MongoUnitOfWork, ensure_core_indexes
from labelmesh.core.topics import Topics
from labelmesh.core.uow import Transaction
from labelmesh.review.adapters.annotators import annotator_key
from labelmesh.review.adapters.documents import now
from labelmesh.review.adapters.store import MongoReviewStore, ensure_indexes
from labelmesh.review.contexts import ProjectContexts
from labelmesh.review.pipeline import ItemState
from labelmesh.review.records import (
    GoldAnswer,
    ReviewerDecision,
    ReviewTask,
    TaskKind,
    TaskStatus,
)
from labelmesh.testing.hot_queries import Examined, SentCommands, examined, growth
from labelmesh.testing.twins.review import cls
from labelmesh.v1.events_pb2 import ProjectSpec

from .builders import at

pytestmark = pytest.mark.integration


@dataclass
class Review:
    """The review repositories on a fresh SecantusDB database, with their finds recorded."""

    db: AsyncDatabase[Document]
    sent: SentCommands
    store: MongoReviewStore
    uow: MongoUnitOfWork

    async def examined_by(self, call: Callable[[], Awaitable[object]]) -> Examined:
        """What the server reads for the finds `call` sends, all added up."""
        self.sent.sent.clear()
        await call()
        finds = self.sent.named("find")
        assert finds, "the call sent no find"
        total = Examined(0, 0)
        for find in finds:
            one = await examined(
                self.db[find["find"]],
                find.get("filter", {}),
                sort=find.get("sort"),
                limit=find.get("limit", 0),
            )
            total = Examined(total.keys + one.keys, total.docs + one.docs)
        return total

    async def in_transaction(self, call: Callable[[Transaction], Awaitable[object]]) -> Examined:
        async def run() -> None:
            async with self.uow.begin() as tx:
                await call(tx)

        return await self.examined_by(run)


@pytest.fixture
async def review(mongo_uri: str, unique_name: str) -> AsyncIterator[Review]:
    sent = SentCommands()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        mongo_uri, tz_aware=True, event_listeners=[sent]
    )
    db = client[unique_name]
    await ensure_core_indexes(db)
    await ensure_indexes(db)
    store = MongoReviewStore.on(db)
    try:
        yield Review(db, sent, store, MongoUnitOfWork(client, db, Topics(unique_name)))
    finally:
        await client.drop_database(unique_name)
        await client.close()


def assert_flat(small: Examined, large: Examined) -> None:
    assert small.docs <= 10, f"{small} at 1,000 documents: not a lookup by index"
    assert (large.keys, large.docs) <= (small.keys, small.docs), f"grew: {small} -> {large}"


# The seeded documents carry only the fields the collections' indexes and the
# queries look at: the same index entries for far less seeding.


async def test_a_fetchs_items_and_gold_answers_are_read_by_id(review: Review) -> None:
    async with review.uow.begin() as tx:
        await review.store.items.save(tx, [ItemState("i1", "p1"), ItemState("i2", "p1")])
        await review.store.gold.save(tx, [GoldAnswer("g1", "p1", [cls("cat")], "olga", now())])

    async def load(tx: Transaction) -> None:
        await review.store.items.load(tx, ["i1", "i2", "g1", "not-yet"])
        await review.store.gold.answers(tx, ["i1", "i2", "g1", "not-yet"])

    seeds = [
        (review.db["items"], lambda i: {"_id": f"other-{i}"}),
        (review.db["gold"], lambda i: {"_id": f"gold-{i}", "project_id": f"p{i % 50}"}),
    ]
    assert_flat(*await growth(seeds, lambda: review.in_transaction(load)))


async def test_a_projects_context_and_gold_count_read_only_its_annotators(
    review: Review,
) -> None:
    async with review.uow.begin() as tx:
        await review.store.projects.save(tx, ProjectSpec(project_id="p1", classes=["cat"]))
        await review.store.annotators.count_gold(tx, "p1", {"ann": (2, 1), "ben": (1, 1)})
    contexts = ProjectContexts(review.store)

    def other_annotator(i: int) -> Document:
        project = f"p{i + 2}"
        return {"_id": annotator_key(project, "ann"), "project_id": project}

    async def count(tx: Transaction) -> None:
        await review.store.annotators.count_gold(tx, "p1", {"ann": (1, 1), "ben": (1, 0)})

    async def measure() -> tuple[Examined, Examined]:
        context = await review.examined_by(lambda: contexts.context("p1"))
        return context, await review.in_transaction(count)

    (context, counted), (context_later, counted_later) = await growth(
        [(review.db["annotators"], other_annotator)], measure
    )
    assert_flat(context, context_later)
    assert_flat(counted, counted_later)


async def test_settling_reads_only_the_completed_items_decisions(review: Review) -> None:
    decisions = review.store.reviewer_decisions

    def decision(task_id: str, item_id: str) -> ReviewerDecision:
        return ReviewerDecision(task_id, "p1", item_id, "eve", "check", True, [cls("cat")], now())

    async with review.uow.begin() as tx:
        await decisions.record(tx, decision("t1", "i1"))
        await decisions.record(tx, decision("t2", "i1"))

    def other_decision(i: int) -> Document:
        return {
            "_id": f"other-{i}",
            "project_id": "p1",
            "item_id": f"item-{i % 20_000}",
            "decided_at": now(),
        }

    async def measure() -> Examined:
        return await review.in_transaction(lambda tx: decisions.unsettled(tx, ["i1", "i2"]))

    assert_flat(*await growth([(review.db["reviewer_decisions"], other_decision)], measure))


async def test_a_flagged_annotators_recent_items_read_only_recent_scores(review: Review) -> None:
    scores = review.store.scores
    recent = now()

    def score(annotation_id: str, annotator: str, age: timedelta, gold: bool = False) -> Document:
        return {
            "_id": annotation_id,
            "project_id": "p1",
            "item_id": f"item-{annotation_id}",
            "annotator": annotator,
            "gold": gold,
            "scored_at": recent - age,
        }

    await review.db["scores"].insert_many(
        [score(f"new-{i}", "ann", timedelta(minutes=i), gold=i == 0) for i in range(4)]
    )
    newest = ["item-new-1", "item-new-2", "item-new-3"]
    assert await scores.recent_items_of("p1", "ann", 3) == newest

    def older_or_others(i: int) -> Document:
        # Half are the same annotator's scores of long ago, half other annotators'.
        if i % 2:
            return score(f"old-{i}", "ann", timedelta(days=30, seconds=i))
        return score(f"other-{i}", f"a{i % 500}", timedelta(seconds=i))

    async def measure() -> Examined:
        return await review.examined_by(lambda: scores.recent_items_of("p1", "ann", 3))

    assert_flat(*await growth([(review.db["scores"], older_or_others)], measure))


async def test_a_reviewers_current_task_reads_only_their_tasks(review: Review) -> None:
    assigned = ReviewTask(
        review_task_id="t1",
        kind=TaskKind.REVIEW,
        stage_index=0,
        stage="check",
        role="expert",
        team="",
        labels=[cls("cat")],
        candidates=[],
        agreement=1.0,
        reason="",
        round=0,
        annotators=["ann"],
        project_id="p1",
        item_id="i1",
        created_at=at(0),
        status=TaskStatus.ASSIGNED,
        assignee="eve",
    )
    async with review.uow.begin() as tx:
        await review.store.tasks.insert(tx, [assigned])
    assert await review.store.tasks.assigned_to("p1", "eve") == assigned

    def other_task(i: int) -> Document:
        # Tasks eve decided, and open tasks of the same project.
        return {
            "_id": f"other-{i}",
            "project_id": "p1",
            "status": TaskStatus.DECIDED.value if i % 2 else TaskStatus.OPEN.value,
            "assignee": "eve" if i % 2 else None,
            "created_at": now(),
        }

    async def measure() -> Examined:
        return await review.examined_by(lambda: review.store.tasks.assigned_to("p1", "eve"))

    assert_flat(*await growth([(review.db["review_tasks"], other_task)], measure))
