"""Scores and the review's copies of annotations, on the twin and on SecantusDB."""

from __future__ import annotations

import dataclasses

import pytest

from labelmesh.core.errors import Conflict
from labelmesh.review.records import AnnotationCopy, ScoreReference, StoredScore, Window
from labelmesh.testing.backends import Backend
from labelmesh.v1.geometry_pb2 import Classification, Label

from .builders import at, review_store


def score(annotation_id: str, minutes: int, **fields: object) -> StoredScore:
    base = StoredScore(
        annotation_id=annotation_id,
        project_id="p1",
        item_id=f"item-{annotation_id}",
        annotator="ann",
        round=1,
        agreement=0.5,
        reference=ScoreReference.FINAL,
        gold=False,
        gold_correct=False,
        correct=True,
        score=0.5,
        seconds_spent=12.0,
        scored_at=at(minutes),
        submitted_at=at(minutes - 1),
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def copy_of(annotation_id: str, minutes: int, annotator: str = "ann") -> AnnotationCopy:
    return AnnotationCopy(
        annotation_id=annotation_id,
        project_id="p1",
        item_id="i1",
        annotator=annotator,
        round=2,
        labels=[Label(classification=Classification(label="cat"), confidence=0.5)],
        gold=False,
        submitted_at=at(minutes),
    )


async def test_scores_round_trip_and_a_new_score_replaces_the_old(backend: Backend) -> None:
    repository = review_store(backend).scores
    gold = score(
        "a2", 1, gold=True, gold_correct=True, reference=ScoreReference.GOLD, submitted_at=None
    )
    async with backend.uow.begin() as tx:
        await repository.save(tx, [score("a1", 5, correct=None), gold])
    assert await repository.in_window(Window("p1")) == [gold, score("a1", 5, correct=None)]
    assert [type(s.reference) for s in await repository.in_window(Window("p1"))] == [
        ScoreReference,
        ScoreReference,
    ]
    async with backend.uow.begin() as tx:
        await repository.save(tx, [score("a1", 0, agreement=1.0)])
    assert await repository.in_window(Window("p1")) == [score("a1", 0, agreement=1.0), gold]


async def test_a_score_window_bounds_time_and_names_an_annotator(backend: Backend) -> None:
    repository = review_store(backend).scores
    async with backend.uow.begin() as tx:
        await repository.save(
            tx,
            [score("a0", 0), score("a1", 10, annotator="ben"), score("a2", 20, project_id="p2")],
        )
    window = Window("p1", since=at(0), until=at(10))
    assert [s.annotation_id for s in await repository.in_window(window)] == ["a0"]
    bens = Window("p1", user="ben")
    assert [s.annotation_id for s in await repository.in_window(bens)] == ["a1"]


async def test_an_annotators_recent_items_are_newest_first_without_gold(backend: Backend) -> None:
    repository = review_store(backend).scores
    async with backend.uow.begin() as tx:
        await repository.save(
            tx,
            [
                score("a1", 1, item_id="i1"),
                score("a2", 2, item_id="i2"),
                score("a3", 3, item_id="i1"),
                score("a4", 4, item_id="g1", gold=True),
                score("a5", 5, item_id="i5", annotator="ben"),
            ],
        )
    assert await repository.recent_items_of("p1", "ann", 3) == ["i1", "i2"]
    assert await repository.recent_items_of("p1", "ann", 1) == ["i1"]
    assert await repository.recent_items_of("p2", "ann", 3) == []


async def test_annotation_copies_round_trip_once(backend: Backend) -> None:
    repository = review_store(backend).annotations
    async with backend.uow.begin() as tx:
        await repository.insert(tx, [copy_of("a2", 2, "ben"), copy_of("a1", 1)])
    assert await repository.in_window(Window("p1")) == [copy_of("a1", 1), copy_of("a2", 2, "ben")]
    assert await repository.in_window(Window("p1", user="ben")) == [copy_of("a2", 2, "ben")]
    assert await repository.in_window(Window("p1", since=at(3))) == []
    with pytest.raises(Conflict):
        async with backend.uow.begin() as tx:
            await repository.insert(tx, [copy_of("a3", 3), copy_of("a1", 1)])
    assert [c.annotation_id for c in await repository.in_window(Window("p1"))] == ["a1", "a2"]
