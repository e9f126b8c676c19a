"""The byte limits a fetch keeps to while its answer arrives."""

from __future__ import annotations

import pytest

from labelmesh.ingest.fetching import BytePool, FetchBudget, FetchFailed


def test_a_fetch_stops_at_its_own_limit() -> None:
    budget = FetchBudget(max_bytes=10)
    budget.check(10)
    budget.add(b"12345")
    budget.add(b"67890")
    with pytest.raises(FetchFailed, match="more than the limit of 10 bytes"):
        budget.add(b"x")
    assert budget.content() == b"1234567890"
    with pytest.raises(FetchFailed, match="declares 11 bytes") as declared:
        budget.check(11)
    assert declared.value.outcome == "too_large"


def test_fetches_draw_from_their_requests_pool_and_give_back_on_failure() -> None:
    pool = BytePool(capacity=8)
    first, second = FetchBudget(10, pool), FetchBudget(10, pool)
    first.add(b"123456")
    with pytest.raises(FetchFailed, match="together exceed 8 bytes"):
        second.add(b"abc")
    first.release()
    assert pool.held == 0
    second.add(b"abcdefgh")
    assert pool.held == 8
