"""The judgement counts' contract, against the twin and SecantusDB."""

from __future__ import annotations

import pytest

from labelmesh.inference.adapters.repository import MongoJudgementRepository
from labelmesh.inference.domain import CONFIDENCE_BUCKETS
from labelmesh.inference.ports import JudgementRepository
from labelmesh.inference.records import BucketCounts, Judgement
from labelmesh.testing.backends import Backend
from labelmesh.testing.twins.inference import InMemoryJudgementRepository


def repository(backend: Backend) -> JudgementRepository:
    return backend.pick(InMemoryJudgementRepository, MongoJudgementRepository)


async def test_judgements_are_counted_per_model_and_bucket(backend: Backend) -> None:
    judgements = repository(backend)
    assert await judgements.counts("faces") == [BucketCounts()] * CONFIDENCE_BUCKETS
    async with backend.uow.begin() as tx:
        await judgements.record(
            tx,
            [
                Judgement("faces", 9, True),
                Judgement("faces", 9, True),
                Judgement("faces", 5, False),
                Judgement("pose", 0, True),
            ],
        )
    async with backend.uow.begin() as tx:
        await judgements.record(tx, [Judgement("faces", 9, False)])
    counts = await judgements.counts("faces")
    assert counts[9] == BucketCounts(accepted=2, rejected=1)
    assert counts[5] == BucketCounts(accepted=0, rejected=1)
    assert sum(c.accepted + c.rejected for c in counts) == 4
    assert (await judgements.counts("pose"))[0] == BucketCounts(accepted=1)


async def test_a_rolled_back_record_counts_nothing(backend: Backend) -> None:
    judgements = repository(backend)
    with pytest.raises(RuntimeError):
        async with backend.uow.begin() as tx:
            await judgements.record(tx, [Judgement("faces", 1, True)])
            raise RuntimeError("after writing")
    assert await judgements.counts("faces") == [BucketCounts()] * CONFIDENCE_BUCKETS
