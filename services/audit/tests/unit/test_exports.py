"""An export is recorded however it ends: with what it sent, and whether all of it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from labelmesh.audit.exports import counted


async def batches(sizes: list[int], fail_after: int | None = None) -> AsyncIterator[list[int]]:
    for index, size in enumerate(sizes):
        if index == fail_after:
            raise ConnectionError("the database went away")
        yield list(range(size))


async def test_a_finished_export_counts_every_entry() -> None:
    ends: list[tuple[int, bool]] = []
    read = [len(b) async for b in counted(batches([3, 3, 1]), lambda *end: ends.append(end))]
    assert read == [3, 3, 1] and ends == [(7, True)]


async def test_an_abandoned_export_counts_the_batches_its_client_took() -> None:
    ends: list[tuple[int, bool]] = []
    export = counted(batches([3, 3, 1]), lambda *end: ends.append(end))
    await anext(export)
    await anext(export)  # the first batch is taken once the second is asked for
    await export.aclose()  # the client went away
    assert ends == [(3, False)]


async def test_a_failed_export_is_recorded_and_its_error_passed_on() -> None:
    ends: list[tuple[int, bool]] = []
    with pytest.raises(ConnectionError):
        async for _ in counted(batches([2, 2, 2], fail_after=2), lambda *end: ends.append(end)):
            pass
    assert ends == [(4, False)]
