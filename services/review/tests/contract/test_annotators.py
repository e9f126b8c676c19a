"""Annotators' gold tallies and gold answers, on the twin and on SecantusDB."""

from __future__ import annotations

import pytest

from labelmesh.review.records import AnnotatorRecord, GoldAnswer
from labelmesh.testing.backends import Backend
from labelmesh.testing.twins.review import cls

from .builders import T0, review_store


async def test_gold_answers_add_up_and_a_flag_sticks(backend: Backend) -> None:
    repository = review_store(backend).annotators
    assert await repository.of_project("p1") == []
    async with backend.uow.begin() as tx:
        first = await repository.count_gold(tx, "p1", {"ann": (2, 1), "ben": (1, 1)})
    assert first == [AnnotatorRecord("p1", "ann", 2, 1), AnnotatorRecord("p1", "ben", 1, 1)]
    async with backend.uow.begin() as tx:
        [ann] = await repository.count_gold(tx, "p1", {"ann": (3, 0)})
        await repository.mark_flagged(tx, "p1", "ann")
        await repository.mark_flagged(tx, "p1", "nobody")
    assert ann == AnnotatorRecord("p1", "ann", 5, 1)
    records = sorted(await repository.of_project("p1"), key=lambda r: r.annotator)
    assert records == [
        AnnotatorRecord("p1", "ann", 5, 1, flagged=True),
        AnnotatorRecord("p1", "ben", 1, 1),
    ]
    assert await repository.of_project("p2") == []


async def test_a_rolled_back_count_leaves_the_tally(backend: Backend) -> None:
    repository = review_store(backend).annotators
    with pytest.raises(RuntimeError):
        async with backend.uow.begin() as tx:
            await repository.count_gold(tx, "p1", {"ann": (1, 1)})
            raise RuntimeError("abort")
    assert await repository.of_project("p1") == []


async def test_gold_answers_round_trip_and_replace(backend: Backend) -> None:
    repository = review_store(backend).gold
    async with backend.uow.begin() as tx:
        await repository.save(tx, [])
        await repository.save(
            tx,
            [
                GoldAnswer("g1", "p1", [cls("cat")], "olga", T0),
                GoldAnswer("g2", "p1", [cls("dog")], "olga", T0),
            ],
        )
        await repository.save(tx, [GoldAnswer("g1", "p1", [cls("bee")], "olga", T0)])
    async with backend.uow.begin() as tx:
        answers = await repository.answers(tx, ["g1", "g2", "g1", "nope"])
    assert answers == {"g1": [cls("bee")], "g2": [cls("dog")]}
